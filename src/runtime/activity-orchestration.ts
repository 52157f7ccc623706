/**
 * Which orchestration (name and version) scheduled an activity, for ActivityContext's
 * orchestrationName / orchestrationVersion. This runtime's turns put it on each ActivityExecute
 * (orchestration_name / orchestration_version, see carriedOrchestration); items written by older
 * runtimes or other engines lack it, and for those:
 *
 * The orchestration dispatcher records it for every turn that schedules activities, before the
 * ack makes them fetchable, so a worker in the same process finds it without a query; a worker
 * in another process asks the store once per instance and execution (the instance row, or the
 * execution's start event when the instance has moved on). The cache is per provider
 * object (two stores may hold the same instance id) and bounded.
 */
import type { ActivityExecuteItem, Provider } from "../provider/types.ts";

export interface OrchestrationIdentity {
  name: string;
  version: string;
}

const UNKNOWN: OrchestrationIdentity = { name: "unknown", version: "unknown" };
const MAX_ENTRIES = 10_000;
const caches = new WeakMap<Provider, Map<string, OrchestrationIdentity>>();

function cacheOf(provider: Provider): Map<string, OrchestrationIdentity> {
  let cache = caches.get(provider);
  if (!cache) {
    cache = new Map();
    caches.set(provider, cache);
  }
  return cache;
}

const keyOf = (instance: string, executionId: number) => `${executionId}\u0000${instance}`;

/** Record the orchestration of one execution (called before its activities are enqueued). */
export function rememberOrchestration(
  provider: Provider,
  instance: string,
  executionId: number,
  identity: OrchestrationIdentity,
): void {
  const cache = cacheOf(provider);
  const key = keyOf(instance, executionId);
  cache.delete(key); // re-insert: the Map's order is the eviction order
  cache.set(key, identity);
  if (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
}

/** The orchestration an ActivityExecute carries, when it carries both fields as strings. */
export function carriedOrchestration(item: ActivityExecuteItem): OrchestrationIdentity | null {
  // Unknown keys are stored unchecked: a malformed value counts as absent.
  const { orchestration_name: name, orchestration_version: version } = item as {
    orchestration_name?: unknown;
    orchestration_version?: unknown;
  };
  return typeof name === "string" && typeof version === "string" ? { name, version } : null;
}

/**
 * The orchestration of an execution: from the cache, else from the store (the instance's info,
 * or the execution's OrchestrationStarted event). Never throws: "unknown" when it cannot tell.
 */
export async function orchestrationOf(
  provider: Provider,
  instance: string,
  executionId: number,
): Promise<OrchestrationIdentity> {
  const cached = cacheOf(provider).get(keyOf(instance, executionId));
  if (cached) return cached;
  try {
    // One row when the execution is the instance's current one (the usual case) …
    const info = await provider
      .asManagementCapability()
      ?.getInstanceInfo(instance)
      .catch(() => null);
    if (info && info.currentExecutionId === executionId) {
      const identity = { name: info.orchestrationName, version: info.orchestrationVersion };
      rememberOrchestration(provider, instance, executionId, identity);
      return identity;
    }
    // … else the execution's start event.
    const history = await provider.readWithExecution(instance, executionId);
    const started = history.find((e) => e.type === "OrchestrationStarted");
    if (started?.type !== "OrchestrationStarted") return UNKNOWN;
    const identity = { name: started.name, version: started.version };
    rememberOrchestration(provider, instance, executionId, identity);
    return identity;
  } catch {
    return UNKNOWN;
  }
}
