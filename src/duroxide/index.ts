/**
 * pg-durable/duroxide: duroxide-node's public API over pg-durable's runtime, so a program written
 * for duroxide-node moves by changing its import. See docs/duroxide.md for the mapping and for
 * what is missing.
 */

export type {
  DeleteInstanceResult as JsDeleteInstanceResult,
  InstanceFilter as JsInstanceFilter,
  PruneOptions as JsPruneOptions,
  PruneResult as JsPruneResult,
  QueueDepths as JsQueueDepths,
  SystemMetrics as JsSystemMetrics,
  SystemStats,
  SystemStats as JsSystemStats,
} from "../provider/types.ts";
export { MAX_WORKER_TAGS } from "../provider/types.ts";
export {
  MAX_KV_KEYS,
  MAX_KV_VALUE_BYTES,
  MAX_TAG_NAME_BYTES,
  OrchestrationContext,
} from "../runtime/orchestration-context.ts";
export type { RetryPolicy } from "../runtime/retry.ts";
export type { RaceResult, Settled as JoinResult } from "../runtime/tasks.ts";
export { initTracing, type TracingOptions as JsTracingOptions } from "../runtime/tracing.ts";
export { ActivityContext } from "./activity-context.ts";
export { Client } from "./client.ts";
export type { JsEvent } from "./history.ts";
export type { JsMetricsSnapshot } from "./metrics.ts";
export type { RuntimeOptions, TagFilter } from "./options.ts";
export { type PostgresEntraOptions, PostgresProvider, SqliteProvider } from "./providers.ts";
export { type ActivityFunction, type OrchestrationFunction, Runtime } from "./runtime.ts";
export type {
  JsExecutionInfo,
  JsInstanceInfo,
  JsInstanceTree,
  JsOrchestrationStatus,
} from "./shapes.ts";
export { UnsupportedError } from "./unsupported.ts";
