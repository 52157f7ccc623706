/**
 * The runtime's OpenTelemetry instruments (names, units and attributes in docs/observability.md
 * "Metrics"). The metrics API has no proxy provider, so the instruments are created on first use —
 * after Runtime.start() — from whatever MeterProvider is registered then; with none they are the
 * API's no-op instruments.
 */
import {
  type Attributes,
  type Counter,
  type Histogram,
  type Meter,
  metrics,
  type ObservableGauge,
  type ObservableResult,
} from "@opentelemetry/api";
import type { Provider } from "../../provider/types.ts";
import { ATTR, INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION } from "./tracer.ts";

export const METRIC = {
  starts: "pg_durable.starts",
  completions: "pg_durable.completions",
  failures: "pg_durable.failures",
  turnDuration: "pg_durable.orchestration.turn.duration",
  activityDuration: "pg_durable.activity.duration",
  fetchDuration: "pg_durable.provider.fetch.duration",
  ackDuration: "pg_durable.provider.ack.duration",
  queueDepth: "pg_durable.queue.depth",
} as const;

export type Kind = "orchestration" | "activity";
export type Queue = "orchestrator" | "worker";

export interface Instruments {
  starts: Counter;
  completions: Counter;
  failures: Counter;
  turnDuration: Histogram;
  activityDuration: Histogram;
  fetchDuration: Histogram;
  ackDuration: Histogram;
}

export function meter(): Meter {
  return metrics.getMeter(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
}

export function createInstruments(m: Meter = meter()): Instruments {
  const seconds = (name: string, description: string) => m.createHistogram(name, { unit: "s", description });
  return {
    starts: m.createCounter(METRIC.starts, {
      description: "Orchestrations started / activity executions begun",
    }),
    completions: m.createCounter(METRIC.completions, {
      description: "Orchestrations / activities completed",
    }),
    failures: m.createCounter(METRIC.failures, {
      description: "Orchestrations / activities failed, by error.type",
    }),
    turnDuration: seconds(METRIC.turnDuration, "One orchestration turn: fetch to ack (or abandon)"),
    activityDuration: seconds(METRIC.activityDuration, "One activity execution, to its ack"),
    fetchDuration: seconds(METRIC.fetchDuration, "Provider fetch calls (empty ones include the long poll)"),
    ackDuration: seconds(METRIC.ackDuration, "Provider ack calls"),
  };
}

export function kindAttributes(kind: Kind, errorType?: string): Attributes {
  return errorType ? { [ATTR.kind]: kind, [ATTR.errorType]: errorType } : { [ATTR.kind]: kind };
}

/**
 * `pg_durable.queue.depth{pg_durable.queue}`: read from the provider's management capability when
 * a collection asks, at most once per `minIntervalMs` (collections in between see the last read).
 * A provider without the capability reports nothing. Returns the unregistration.
 */
export function observeQueueDepths(
  provider: Provider,
  minIntervalMs: number,
  m: Meter = meter(),
): () => void {
  const admin = provider.asManagementCapability();
  if (!admin) return () => {};
  const gauge: ObservableGauge = m.createObservableGauge(METRIC.queueDepth, {
    description: "Visible and locked items per queue, read at collection time",
  });
  let last: { at: number; orchestrator: number; worker: number } | null = null;
  let reading: Promise<void> | null = null;
  const refresh = async () => {
    try {
      const d = await admin.getQueueDepths();
      last = {
        at: performance.now(),
        orchestrator: Number(d.orchestratorQueue),
        worker: Number(d.workerQueue),
      };
    } catch {
      // A failed read reports the previous values (or none); the next collection tries again.
    } finally {
      reading = null;
    }
  };
  const callback = async (result: ObservableResult) => {
    if (!last || performance.now() - last.at >= minIntervalMs) {
      reading ??= refresh();
      await reading;
    }
    if (!last) return;
    result.observe(last.orchestrator, { [ATTR.queue]: "orchestrator" });
    result.observe(last.worker, { [ATTR.queue]: "worker" });
  };
  gauge.addCallback(callback);
  return () => gauge.removeCallback(callback);
}

/** Seconds since `began` (a performance.now() reading). */
export function secondsSince(began: number): number {
  return (performance.now() - began) / 1000;
}
