/** Chaos failover (`--failover sync|async`): the replicated server, its fault and the lost-work audit. */
import type { FailoverCluster } from "./cluster.ts";

export { type FailoverCluster, startFailoverCluster } from "./cluster.ts";
export { lostWorkVerdict, type StoreAudit, storeAuditor } from "./lost-work.ts";

/** When to fail over: `count` times, evenly spread over the run's duration. */
export function failoverSchedule(durationSec: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => Math.round(((i + 1) * durationSec * 1000) / (count + 1)));
}

/** The run's own server is a failover cluster (then chaos may fail it over). */
export function isFailoverCluster(server: object | null): server is FailoverCluster {
  return server !== null && typeof (server as { failover?: unknown }).failover === "function";
}
