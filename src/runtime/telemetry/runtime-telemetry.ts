/**
 * What the dispatchers call: one object per runtime (ResolvedOptions.telemetry) that times the
 * provider calls, opens and closes the turn and activity spans, stamps trace context onto what a
 * turn commits, and counts starts, completions and failures. Every call is cheap when no SDK is
 * registered (no-op spans and instruments, nothing serialized).
 */
import { context, type Span, trace } from "@opentelemetry/api";
import type { ActivityExecuteItem, Event, FetchedOrchestrationItem, Provider } from "../../provider/types.ts";
import { findStarted } from "../events.ts";
import type { AckPlan, TurnOutcomeKind } from "../turn.ts";
import {
  carrierOf,
  instanceCarrier,
  stampPlan,
  type TraceCarrier,
  validCarrier,
} from "./context-propagation.ts";
import { orchestrationNameOf } from "./log-fields.ts";
import {
  createInstruments,
  type Instruments,
  kindAttributes,
  observeQueueDepths,
  type Queue,
  secondsSince,
} from "./metrics.ts";
import { ATTR, spanFailed, startActivitySpan, startTurnSpan } from "./tracer.ts";

export class RuntimeTelemetry {
  private created: Instruments | null = null;
  private stopObserving: () => void = () => {};

  /** Created on first use, from the MeterProvider registered by then. */
  get instruments(): Instruments {
    this.created ??= createInstruments();
    return this.created;
  }

  /** Time a provider fetch: `pg_durable.provider.fetch.duration{queue, fetch.result}`. */
  async timeFetch<T>(queue: Queue, fetch: () => Promise<T | null>): Promise<T | null> {
    const began = performance.now();
    let result = "error";
    try {
      const fetched = await fetch();
      result = fetched ? "item" : "empty";
      return fetched;
    } finally {
      this.instruments.fetchDuration.record(secondsSince(began), {
        [ATTR.queue]: queue,
        [ATTR.fetchResult]: result,
      });
    }
  }

  /** Time a provider ack: `pg_durable.provider.ack.duration{queue, outcome}`. */
  async timeAck<T>(queue: Queue, ack: () => Promise<T>): Promise<T> {
    const began = performance.now();
    let outcome = "error";
    try {
      const value = await ack();
      outcome = "ok";
      return value;
    } finally {
      this.instruments.ackDuration.record(secondsSince(began), {
        [ATTR.queue]: queue,
        [ATTR.outcome]: outcome,
      });
    }
  }

  beginTurn(fetched: FetchedOrchestrationItem): TurnTelemetry {
    return new TurnTelemetry(this.instruments, fetched);
  }

  /** Count what a committed turn did (the runtime's metricsSnapshot counters, as OTel counters). */
  turnCommitted(plan: AckPlan, outcome: TurnOutcomeKind): void {
    const { starts, completions, failures } = this.instruments;
    if (plan.delta.some((e) => e.type === "OrchestrationStarted"))
      starts.add(1, kindAttributes("orchestration"));
    if (outcome === "completed") completions.add(1, kindAttributes("orchestration"));
    if (outcome === "cancelled") failures.add(1, kindAttributes("orchestration", "cancelled"));
    else if (outcome === "failed") failures.add(1, kindAttributes("orchestration", failureType(plan.delta)));
  }

  beginActivity(a: ActivityExecuteItem, attempt: number, workerId: string): ActivityTelemetry {
    return new ActivityTelemetry(this.instruments, a, attempt, workerId);
  }

  /** Report `pg_durable.queue.depth` from `provider` while the runtime runs (until stop()). */
  observeQueueDepths(provider: Provider, minIntervalMs: number): void {
    this.stopObserving();
    this.stopObserving = observeQueueDepths(provider, minIntervalMs);
  }

  stop(): void {
    this.stopObserving();
    this.stopObserving = () => {};
  }

  /** An activity poisoned before it ran (no span: nothing was executed). */
  activityPoisoned(): void {
    this.instruments.failures.add(1, kindAttributes("activity", "poison"));
  }
}

/** One turn: its span (a child of the instance's stored context) and its duration. */
export class TurnTelemetry {
  readonly span: Span;
  private readonly began = performance.now();
  private readonly instance: TraceCarrier | null;
  private readonly name: string;
  private outcome = "abandoned";

  constructor(
    private readonly instruments: Instruments,
    { item, attemptCount }: FetchedOrchestrationItem,
  ) {
    const started = findStarted(item.history);
    this.name = orchestrationNameOf(item);
    const stored = instanceCarrier(item);
    this.instance = validCarrier(stored);
    this.span = startTurnSpan(this.name, stored, {
      [ATTR.instanceId]: item.instance,
      [ATTR.executionId]: item.executionId,
      [ATTR.orchestrationName]: this.name,
      [ATTR.orchestrationVersion]: started?.version ?? item.version,
      [ATTR.replaying]: item.history.length > 0,
      [ATTR.historyEvents]: item.history.length,
      [ATTR.attempt]: attemptCount,
    });
  }

  /** The turn's plan is about to be acked: stamp trace context onto it and note what it does. */
  planned(plan: AckPlan, outcome: TurnOutcomeKind): void {
    this.outcome = outcome;
    const opened = plan.delta.find((e) => e.type === "OrchestrationStarted");
    if (opened?.type === "OrchestrationStarted") {
      // A new execution (first turn or after continue-as-new): nothing is replayed.
      this.span.setAttributes({
        [ATTR.executionId]: plan.executionId,
        [ATTR.orchestrationVersion]: opened.version,
        [ATTR.replaying]: false,
      });
    }
    if (outcome === "failed") spanFailed(this.span, failureMessage(plan.delta), failureType(plan.delta));
    const turn = carrierOf(this.span);
    if (turn) stampPlan(plan, this.instance, turn);
  }

  /** A turn that ends without its own plan: "poisoned", "abandoned" (the default). */
  settle(outcome: string): void {
    this.outcome = outcome;
  }

  end(): void {
    this.span.setAttribute(ATTR.outcome, this.outcome);
    this.span.end();
    this.instruments.turnDuration.record(secondsSince(this.began), {
      [ATTR.orchestrationName]: this.name,
      [ATTR.outcome]: this.outcome,
    });
  }
}

type ActivitySettled = "forced" | "cancelled" | { kind: "ok" } | { kind: "error"; error: unknown };

/** One activity execution: its span (a child of the turn that scheduled it) and its duration. */
export class ActivityTelemetry {
  readonly span: Span;
  private readonly began = performance.now();
  private outcome = "abandoned";

  constructor(
    private readonly instruments: Instruments,
    private readonly a: ActivityExecuteItem,
    attempt: number,
    workerId: string,
  ) {
    this.span = startActivitySpan(a.name, (a as { trace_context?: unknown }).trace_context, {
      [ATTR.instanceId]: a.instance,
      [ATTR.executionId]: a.execution_id,
      [ATTR.activityId]: a.id,
      [ATTR.activityName]: a.name,
      [ATTR.workerId]: workerId,
      [ATTR.attempt]: attempt,
    });
    instruments.starts.add(1, kindAttributes("activity"));
  }

  /** Run the activity's code with its span active (spans it opens become children). */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return context.with(trace.setSpan(context.active(), this.span), fn);
  }

  /** How the code settled; the last call wins (a result that cannot be stored fails after all). */
  settled(how: ActivitySettled): void {
    if (how === "forced") this.outcome = "abandoned";
    else if (how === "cancelled") this.outcome = "cancelled";
    else if (how.kind === "ok") this.outcome = "completed";
    else {
      this.outcome = "failed";
      const error = how.error;
      spanFailed(this.span, error instanceof Error ? error.message : String(error), "application");
    }
  }

  end(): void {
    const { completions, failures, activityDuration } = this.instruments;
    if (this.outcome === "completed") completions.add(1, kindAttributes("activity"));
    else if (this.outcome === "failed") failures.add(1, kindAttributes("activity", "application"));
    this.span.setAttribute(ATTR.outcome, this.outcome);
    this.span.end();
    activityDuration.record(secondsSince(this.began), {
      [ATTR.activityName]: this.a.name,
      [ATTR.outcome]: this.outcome,
    });
  }
}

/** error.type of a failed turn: the ErrorDetails variant of its OrchestrationFailed, lower-cased. */
function failureType(delta: readonly Event[]): string {
  const failed = delta.find((e) => e.type === "OrchestrationFailed");
  if (failed?.type !== "OrchestrationFailed") return "unknown";
  return (Object.keys(failed.details)[0] ?? "unknown").toLowerCase();
}

function failureMessage(delta: readonly Event[]): string {
  const failed = delta.find((e) => e.type === "OrchestrationFailed");
  if (failed?.type !== "OrchestrationFailed") return "orchestration failed";
  const details = Object.values(failed.details)[0] as { message?: unknown } | undefined;
  return typeof details?.message === "string" ? details.message : "orchestration failed";
}
