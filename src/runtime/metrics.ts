/** Counters a runtime keeps about itself (duroxide-node's metricsSnapshot() shape). */
export interface RuntimeMetrics {
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
  /**
   * This runtime's clock − the database's, in ms (positive: ahead), as last measured; null before
   * the first measurement or when the provider cannot read its database's time.
   */
  clockSkewMs: number | null;
  /** Half the round trip of that measurement: the true skew is clockSkewMs ± this. */
  clockSkewUncertaintyMs: number | null;
  /** True while the skew exceeds maxClockSkewMs and the runtime takes no leases. */
  clockSkewRefusing: boolean;
}

export function emptyMetrics(): RuntimeMetrics {
  return {
    orchStarts: 0,
    orchCompletions: 0,
    orchFailures: 0,
    orchApplicationErrors: 0,
    orchInfrastructureErrors: 0,
    orchConfigurationErrors: 0,
    orchPoison: 0,
    activitySuccess: 0,
    activityAppErrors: 0,
    activityInfraErrors: 0,
    activityConfigErrors: 0,
    activityPoison: 0,
    orchDispatcherItemsFetched: 0,
    workerDispatcherItemsFetched: 0,
    orchContinueAsNew: 0,
    suborchestrationCalls: 0,
    providerErrors: 0,
    clockSkewMs: null,
    clockSkewUncertaintyMs: null,
    clockSkewRefusing: false,
  };
}
