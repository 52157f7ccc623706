/**
 * duroxide-node's RuntimeOptions and their translation to the main API's. Most names are the
 * same on both sides (the main API took duroxide-node's); this adds what differs: level names
 * ("trace", "off"), the flat tag-filter form of duroxide-node's native options, and the
 * `dispatcherPollInterval` name its user guide uses. Unset options keep duroxide's defaults
 * (2 orchestration and 2 activity slots, 100 ms minimum poll, 30 s activity lock, …).
 */
import type { RuntimeOptions as StoreRuntimeOptions, TagFilterOption } from "../runtime/options.ts";
import { type LogFormat, parseLogFormat, parseLogLevel } from "../runtime/tracing.ts";

/** duroxide-node's worker tag filter. */
export type TagFilter = "defaultOnly" | "any" | "none" | { tags: string[] } | { defaultAnd: string[] };

export interface RuntimeOptions
  extends Omit<StoreRuntimeOptions, "logLevel" | "logFormat" | "workerTagFilter"> {
  orchestrationConcurrency?: number;
  workerConcurrency?: number;
  /** Minimum cycle of an idle dispatcher, ms (default 100). */
  dispatcherPollIntervalMs?: number;
  /** The user guide's name for dispatcherPollIntervalMs. */
  dispatcherPollInterval?: number;
  workerLockTimeoutMs?: number;
  /** "trace" | "debug" | "info" | "warn" | "error" | "off" (default "info"). */
  logLevel?: string;
  /** "compact" | "pretty" | "json". */
  logFormat?: LogFormat | string;
  serviceName?: string;
  serviceVersion?: string;
  maxSessionsPerRuntime?: number;
  sessionIdleTimeoutMs?: number;
  workerNodeId?: string;
  /** Default "defaultOnly". Also the flat native form: "tags" | "defaultAnd" with workerTagFilterTags. */
  workerTagFilter?: TagFilter | "tags" | "defaultAnd";
  workerTagFilterTags?: string[];
}

export function storeOptions(options: RuntimeOptions = {}): StoreRuntimeOptions {
  const {
    dispatcherPollInterval,
    logLevel,
    logFormat,
    workerTagFilter,
    workerTagFilterTags,
    dispatcherPollIntervalMs,
    ...same
  } = options;
  const mapped: StoreRuntimeOptions = { ...same };
  const pollMs = dispatcherPollIntervalMs ?? dispatcherPollInterval;
  if (pollMs !== undefined) mapped.dispatcherPollIntervalMs = pollMs;
  if (logLevel !== undefined) mapped.logLevel = parseLogLevel(logLevel);
  if (logFormat !== undefined) mapped.logFormat = parseLogFormat(logFormat);
  if (workerTagFilter !== undefined) mapped.workerTagFilter = tagFilter(workerTagFilter, workerTagFilterTags);
  return mapped;
}

function tagFilter(filter: NonNullable<RuntimeOptions["workerTagFilter"]>, tags?: string[]): TagFilterOption {
  if (filter === "tags") return { tags: tags ?? [] };
  if (filter === "defaultAnd") return { defaultAnd: tags ?? [] };
  return filter;
}
