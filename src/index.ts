export { MigrationError, migrate, migrationStatus } from "./migrate/migrations.ts";
export { isRetryableDatabaseError, ProviderError } from "./provider/errors.ts";
export { PostgresProvider, type PostgresProviderOptions } from "./provider/postgres-provider.ts";
export * from "./provider/types.ts";
export {
  ActivityContext,
  Client,
  OrchestrationContext,
  Runtime,
  type RuntimeOptions,
} from "./runtime/index.ts";
