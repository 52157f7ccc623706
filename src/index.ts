export { MigrationError, migrate, migrationStatus } from "./migrate/migrations.ts";
export { grantRuntimeRole, revokeRuntimeRole } from "./migrate/runtime-role.ts";
export { isRetryableDatabaseError, ProviderError } from "./provider/errors.ts";
export { type ListenProbeResult, probeListen } from "./provider/listen-probe.ts";
export { PostgresProvider, type PostgresProviderOptions } from "./provider/postgres-provider.ts";
export type { AdvanceableClock, ProviderFactory } from "./provider/provider-factory.ts";
export { StoreNotReadyError } from "./provider/schema-check.ts";
export * from "./provider/types.ts";
export {
  ActivityContext,
  Client,
  DEFAULT_LIMITS,
  LimitError,
  OrchestrationContext,
  type PayloadLimits,
  Runtime,
  type RuntimeOptions,
} from "./runtime/index.ts";
