/** The durable runtime: public API. */

export { ActivityContext } from "./activity-context.ts";
export { Client, type ClientOptions, type FinishedStatus, type OrchestrationStatus } from "./client.ts";
export { type ClockReading, type ClockStatus, measureClockSkew } from "./clock-guard.ts";
export { displayError, TaskFailedError, WaitTimeoutError } from "./errors.ts";
export { PayloadError } from "./json.ts";
export { DEFAULT_LIMITS, LimitError, type PayloadLimits } from "./limits.ts";
export { consoleLogger, type FieldsFirstLogger, fieldsFirst, type LogFields, type Logger } from "./logger.ts";
export type { RuntimeMetrics } from "./metrics.ts";
export type { RuntimeOptions, TagFilterOption } from "./options.ts";
export {
  type ActivityOptions,
  type LogLevel,
  MAX_CUSTOM_STATUS_BYTES,
  MAX_KV_KEYS,
  MAX_KV_VALUE_BYTES,
  MAX_TAG_NAME_BYTES,
  OrchestrationContext,
} from "./orchestration-context.ts";
export type { ActivityFunction, VersionPolicy } from "./registry.ts";
export type { Backoff, RetryPolicy } from "./retry.ts";
export { type Orchestration, Runtime, type ShutdownOutcome } from "./runtime.ts";
export { ENGINE_VERSION } from "./semver.ts";
export {
  ActivityTask,
  AllTask,
  DurableTask,
  LeafTask,
  type RaceResult,
  RaceTask,
  type Settled,
  type TaskLike,
} from "./tasks.ts";
export type { TraceCarrier } from "./telemetry/context-propagation.ts";
export { METRIC } from "./telemetry/metrics.ts";
export { ATTR as TELEMETRY_ATTRIBUTES, INSTRUMENTATION_NAME } from "./telemetry/tracer.ts";
