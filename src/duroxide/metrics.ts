/** metricsSnapshot() in duroxide-node's shape: its seventeen counters, nothing else. */
import type { RuntimeMetrics } from "../runtime/metrics.ts";

export interface JsMetricsSnapshot {
  orchStarts: number;
  orchCompletions: number;
  orchFailures: number;
  orchApplicationErrors: number;
  orchInfrastructureErrors: number;
  orchConfigurationErrors: number;
  orchPoison: number;
  activitySuccess: number;
  activityAppErrors: number;
  activityInfraErrors: number;
  activityConfigErrors: number;
  activityPoison: number;
  orchDispatcherItemsFetched: number;
  workerDispatcherItemsFetched: number;
  orchContinueAsNew: number;
  suborchestrationCalls: number;
  providerErrors: number;
}

export function metricsObject(m: RuntimeMetrics): JsMetricsSnapshot {
  return {
    orchStarts: m.orchStarts,
    orchCompletions: m.orchCompletions,
    orchFailures: m.orchFailures,
    orchApplicationErrors: m.orchApplicationErrors,
    orchInfrastructureErrors: m.orchInfrastructureErrors,
    orchConfigurationErrors: m.orchConfigurationErrors,
    orchPoison: m.orchPoison,
    activitySuccess: m.activitySuccess,
    activityAppErrors: m.activityAppErrors,
    activityInfraErrors: m.activityInfraErrors,
    activityConfigErrors: m.activityConfigErrors,
    activityPoison: m.activityPoison,
    orchDispatcherItemsFetched: m.orchDispatcherItemsFetched,
    workerDispatcherItemsFetched: m.workerDispatcherItemsFetched,
    orchContinueAsNew: m.orchContinueAsNew,
    suborchestrationCalls: m.suborchestrationCalls,
    providerErrors: m.providerErrors,
  };
}
