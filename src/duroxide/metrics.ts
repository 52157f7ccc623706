/**
 * metricsSnapshot() in duroxide-node's shape: the runtime keeps duroxide-node's counters under the
 * same names, plus clock-skew fields that duroxide-node does not have.
 */
import type { RuntimeMetrics } from "../runtime/metrics.ts";

/** The runtime's own counters minus its clock-skew fields, which duroxide-node does not have. */
export type JsMetricsSnapshot = Omit<
  RuntimeMetrics,
  "clockSkewMs" | "clockSkewUncertaintyMs" | "clockSkewRefusing"
>;

export function metricsObject(m: RuntimeMetrics): JsMetricsSnapshot {
  const {
    clockSkewMs: _skew,
    clockSkewUncertaintyMs: _uncertainty,
    clockSkewRefusing: _refusing,
    ...counters
  } = m;
  return counters;
}
