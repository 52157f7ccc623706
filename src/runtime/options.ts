/**
 * Runtime options, their defaults (duroxide 0.1.26's, unless noted) and validation.
 */
import { type DispatcherCapabilityFilter, MAX_WORKER_TAGS, type TagFilter } from "../provider/types.ts";
import { defaultMaxClockSkewMs } from "./clock-guard.ts";
import { type PayloadLimits, resolveLimits } from "./limits.ts";
import { consoleLogger, type Logger } from "./logger.ts";
import type { LogLevel } from "./orchestration-context.ts";
import { compareSemver, defaultCapabilityFilter, parseSemver } from "./semver.ts";
import { RuntimeTelemetry } from "./telemetry/runtime-telemetry.ts";
import { type LogFormat, parseLogFormat } from "./tracing.ts";

/** duroxide-node's tag filter spellings, or the provider's TagFilter itself. */
export type TagFilterOption =
  | "defaultOnly"
  | "any"
  | "none"
  | { tags: string[] }
  | { defaultAnd: string[] }
  | TagFilter;

export interface RuntimeOptions {
  /** Orchestration dispatcher slots (turns in flight). Default 2; 0 = worker-only runtime. */
  orchestrationConcurrency?: number;
  /** Activity slots. Default 2; 0 = no activities on this runtime. */
  workerConcurrency?: number;
  /** Minimum cycle of a dispatcher slot whose fetch found nothing. Default 100 ms. */
  dispatcherMinPollIntervalMs?: number;
  /** duroxide-node's name for dispatcherMinPollIntervalMs. */
  dispatcherPollIntervalMs?: number;
  /**
   * How long a fetch may wait inside the provider for work (long polling; providers may return at
   * once instead). Default 5 000 ms (duroxide: 30 000; shorter here because a provider wait cannot
   * be cancelled and shutdown would otherwise wait for it).
   */
  dispatcherLongPollTimeoutMs?: number;
  /** Lock on an orchestration turn. Default 5 000 ms, renewed while the turn runs. */
  orchestratorLockTimeoutMs?: number;
  orchestratorLockRenewalBufferMs?: number;
  /** Lock on an activity. Default 30 000 ms, renewed while the activity runs. */
  workerLockTimeoutMs?: number;
  workerLockRenewalBufferMs?: number;
  /** A message fetched more often than this is poisoned (fails its orchestration). Default 10. */
  maxAttempts?: number;
  /** Backoff for turns/activities whose handler is not registered here: base·2^(n−1), capped. */
  unregisteredBackoffMs?: number;
  unregisteredBackoffMaxMs?: number;
  /** How long a cancelled activity may take to settle before its slot is freed. Default 10 000 ms. */
  activityCancellationGracePeriodMs?: number;
  /** Engine versions this runtime replays (the capability filter). Default 0.0.0 … engine version. */
  supportedReplayVersions?: { min: string; max: string };
  sessionLockTimeoutMs?: number;
  sessionLockRenewalBufferMs?: number;
  sessionIdleTimeoutMs?: number;
  sessionCleanupIntervalMs?: number;
  /** Distinct sessions this runtime serves at once. Default 10. */
  maxSessionsPerRuntime?: number;
  /** Stable identity of this node as session owner (all worker slots share it). */
  workerNodeId?: string;
  /** Which activity tags this runtime's workers take. Default "defaultOnly" (untagged only). */
  workerTagFilter?: TagFilterOption;
  /** Payload, history and JSON-depth budgets checked before anything is written (docs/limits.md). */
  limits?: Partial<PayloadLimits>;
  logger?: Logger;
  /** Level of the default console logger. Default "info". */
  logLevel?: LogLevel | "silent";
  /** Line format of the default logger: "compact", "pretty" or "json". Default: `[service] LEVEL message`. */
  logFormat?: LogFormat;
  /** Service name in the default logger's lines. Default "pg-durable". */
  serviceName?: string;
  /** Service version in the default logger's lines (compact, pretty and json formats). */
  serviceVersion?: string;
  /**
   * The runtime's clock (epoch ms) for timers, local lease deadlines and the clock check. It must
   * be the clock the provider writes into the store. Default: the provider's clock when it exposes
   * one (`provider.now()`), else Date.now.
   */
  clock?: () => number;
  /**
   * Largest |skew| between this runtime's clock and the database's at which it takes, renews and
   * judges leases. Default: a quarter of the smallest lock renewal margin (625 ms with the default
   * locks); see docs/clocks.md.
   */
  maxClockSkewMs?: number;
  /** How often the clock is compared with the database's. Default 5 000 ms. */
  clockCheckIntervalMs?: number;
  /**
   * The `pg_durable.queue.depth` gauge reads the store at most this often (collections in between
   * report the last reading). Default 10 000 ms; see docs/observability.md.
   */
  queueDepthIntervalMs?: number;
}

export interface ResolvedOptions {
  orchestrationConcurrency: number;
  workerConcurrency: number;
  minPollIntervalMs: number;
  longPollTimeoutMs: number;
  orchestratorLockTimeoutMs: number;
  orchestratorLockRenewalBufferMs: number;
  workerLockTimeoutMs: number;
  workerLockRenewalBufferMs: number;
  maxAttempts: number;
  unregisteredBackoffMs: number;
  unregisteredBackoffMaxMs: number;
  activityCancellationGracePeriodMs: number;
  capabilityFilter: DispatcherCapabilityFilter;
  sessionLockTimeoutMs: number;
  sessionLockRenewalBufferMs: number;
  sessionIdleTimeoutMs: number;
  sessionCleanupIntervalMs: number;
  maxSessionsPerRuntime: number;
  workerNodeId: string | null;
  workerTagFilter: TagFilter;
  limits: PayloadLimits;
  logger: Logger;
  clock: () => number;
  maxClockSkewMs: number;
  clockCheckIntervalMs: number;
  queueDepthIntervalMs: number;
  /** Spans, metrics and trace-context stamping (OpenTelemetry API; no-ops without an SDK). */
  telemetry: RuntimeTelemetry;
}

/** `providerClock`: the provider's own clock, the default of `clock`. */
export function resolveOptions(o: RuntimeOptions = {}, providerClock?: () => number): ResolvedOptions {
  const int = (value: number | undefined, fallback: number, name: string, min = 0): number => {
    const v = value ?? fallback;
    if (!Number.isFinite(v) || v < min) throw new RangeError(`${name} must be a number ≥ ${min}, got ${v}`);
    return v;
  };
  const resolved: ResolvedOptions = {
    orchestrationConcurrency: int(o.orchestrationConcurrency, 2, "orchestrationConcurrency"),
    workerConcurrency: int(o.workerConcurrency, 2, "workerConcurrency"),
    minPollIntervalMs: int(
      o.dispatcherMinPollIntervalMs ?? o.dispatcherPollIntervalMs,
      100,
      "dispatcherMinPollIntervalMs",
    ),
    longPollTimeoutMs: int(o.dispatcherLongPollTimeoutMs, 5000, "dispatcherLongPollTimeoutMs"),
    orchestratorLockTimeoutMs: int(o.orchestratorLockTimeoutMs, 5000, "orchestratorLockTimeoutMs", 1),
    orchestratorLockRenewalBufferMs: int(
      o.orchestratorLockRenewalBufferMs,
      2000,
      "orchestratorLockRenewalBufferMs",
    ),
    workerLockTimeoutMs: int(o.workerLockTimeoutMs, 30_000, "workerLockTimeoutMs", 1),
    workerLockRenewalBufferMs: int(o.workerLockRenewalBufferMs, 5000, "workerLockRenewalBufferMs"),
    maxAttempts: int(o.maxAttempts, 10, "maxAttempts", 1),
    unregisteredBackoffMs: int(o.unregisteredBackoffMs, 1000, "unregisteredBackoffMs"),
    unregisteredBackoffMaxMs: int(o.unregisteredBackoffMaxMs, 60_000, "unregisteredBackoffMaxMs"),
    activityCancellationGracePeriodMs: int(
      o.activityCancellationGracePeriodMs,
      10_000,
      "activityCancellationGracePeriodMs",
    ),
    capabilityFilter: capabilityFilter(o.supportedReplayVersions),
    sessionLockTimeoutMs: int(o.sessionLockTimeoutMs, 30_000, "sessionLockTimeoutMs", 1),
    sessionLockRenewalBufferMs: int(o.sessionLockRenewalBufferMs, 5000, "sessionLockRenewalBufferMs"),
    sessionIdleTimeoutMs: int(o.sessionIdleTimeoutMs, 300_000, "sessionIdleTimeoutMs", 1),
    sessionCleanupIntervalMs: int(o.sessionCleanupIntervalMs, 300_000, "sessionCleanupIntervalMs", 1),
    maxSessionsPerRuntime: int(o.maxSessionsPerRuntime, 10, "maxSessionsPerRuntime", 1),
    workerNodeId: o.workerNodeId ?? null,
    workerTagFilter: parseTagFilter(o.workerTagFilter ?? "defaultOnly"),
    limits: resolveLimits(o.limits),
    logger:
      o.logger ??
      consoleLogger(o.logLevel ?? "info", {
        ...(o.logFormat !== undefined ? { format: parseLogFormat(o.logFormat) } : {}),
        ...(o.serviceName !== undefined ? { serviceName: o.serviceName } : {}),
        ...(o.serviceVersion !== undefined ? { serviceVersion: o.serviceVersion } : {}),
      }),
    clock: o.clock ?? providerClock ?? Date.now,
    maxClockSkewMs: 0, // derived from the lock settings below unless given
    clockCheckIntervalMs: int(o.clockCheckIntervalMs, 5000, "clockCheckIntervalMs", 10),
    queueDepthIntervalMs: int(o.queueDepthIntervalMs, 10_000, "queueDepthIntervalMs"),
    telemetry: new RuntimeTelemetry(),
  };
  resolved.maxClockSkewMs = int(
    o.maxClockSkewMs,
    defaultMaxClockSkewMs([
      renewalMarginMs(resolved.orchestratorLockTimeoutMs, resolved.orchestratorLockRenewalBufferMs),
      renewalMarginMs(resolved.workerLockTimeoutMs, resolved.workerLockRenewalBufferMs),
      renewalMarginMs(resolved.sessionLockTimeoutMs, resolved.sessionLockRenewalBufferMs),
    ]),
    "maxClockSkewMs",
    1,
  );
  const workerRenewal = renewalIntervalMs(resolved.workerLockTimeoutMs, resolved.workerLockRenewalBufferMs);
  if (resolved.sessionIdleTimeoutMs <= workerRenewal) {
    throw new RangeError(
      `sessionIdleTimeoutMs (${resolved.sessionIdleTimeoutMs}) must exceed the worker lock renewal interval (${workerRenewal} ms)`,
    );
  }
  return resolved;
}

/**
 * How often to renew a lock of `timeoutMs`: `buffer` before expiry for long locks, at half-life for
 * short ones (never more often than every 100 ms).
 */
export function renewalIntervalMs(timeoutMs: number, bufferMs: number): number {
  if (timeoutMs >= 15_000) return Math.max(1000, timeoutMs - bufferMs);
  return Math.max(100, Math.ceil(timeoutMs / 2));
}

/** What a lock renewed on time still has left when it is renewed. */
export function renewalMarginMs(timeoutMs: number, bufferMs: number): number {
  return Math.max(1, timeoutMs - renewalIntervalMs(timeoutMs, bufferMs));
}

export function parseTagFilter(option: TagFilterOption): TagFilter {
  if (option === "defaultOnly") return { kind: "defaultOnly" };
  if (option === "any") return { kind: "any" };
  if (option === "none") return { kind: "none" };
  if ("kind" in option) return option;
  const [kind, tags] =
    "tags" in option ? (["tags", option.tags] as const) : (["defaultAnd", option.defaultAnd] as const);
  if (!Array.isArray(tags) || tags.length === 0)
    throw new RangeError(`workerTagFilter.${kind} needs at least one tag`);
  if (tags.length > MAX_WORKER_TAGS)
    throw new RangeError(`workerTagFilter.${kind} takes at most ${MAX_WORKER_TAGS} tags`);
  if (tags.some((t) => typeof t !== "string" || t === ""))
    throw new RangeError("worker tags must be non-empty strings");
  return { kind, tags: new Set(tags) };
}

function capabilityFilter(range: RuntimeOptions["supportedReplayVersions"]): DispatcherCapabilityFilter {
  if (!range) return defaultCapabilityFilter();
  const min = parseSemver(range.min);
  const max = parseSemver(range.max);
  if (!min || !max || compareSemver(min, max) > 0) {
    throw new RangeError(
      `supportedReplayVersions must be a semver range min ≤ max, got ${range.min}..${range.max}`,
    );
  }
  return { supportedDuroxideVersions: [{ min, max }] };
}
