export * from "./provider/types.ts";
export { ProviderError, isRetryableDatabaseError } from "./provider/errors.ts";
export { PostgresProvider, type PostgresProviderOptions } from "./provider/postgres-provider.ts";
export { migrate, migrationStatus, MigrationError } from "./migrate/migrations.ts";
