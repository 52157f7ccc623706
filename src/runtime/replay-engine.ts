/**
 * The replay engine: runs orchestration code over an execution's history plus this turn's new
 * events, and turns whatever the code asks for beyond history into new events.
 *
 * The rule that makes a replay take the same path as the run that wrote the history: walk history
 * one event at a time and let the code advance only after an event that can unblock it. Actions
 * the code emits queue up in a FIFO; each schedule event of history must match the FIFO's head
 * (nondeterminism otherwise); each completion event delivers its result to the task bound to its
 * schedule. When history runs out, what is left in the FIFO is new work.
 */
import type { ErrorDetails, Event, KvEntry } from "../provider/types.ts";
import {
  type Action,
  describeAction,
  describeEvent,
  mismatch,
  RECORD_EVENT_TYPES,
  type RecordAction,
  SCHEDULE_EVENT_TYPES,
} from "./actions.ts";
import {
  applicationError,
  errorMessage,
  NondeterminismError,
  nondeterminism,
  TaskFailedError,
} from "./errors.ts";
import { autoChildId, type EventLog } from "./events.ts";
import { PayloadError, toJson } from "./json.ts";
import {
  type ContextHost,
  type LogLevel,
  OrchestrationContext,
  type OrchestrationInfo,
} from "./orchestration-context.ts";
import type { ReplayPolicy } from "./semver.ts";
import { CoroutineTask, type LeafTask, type Outcome, type TaskHost } from "./tasks.ts";

/** A user orchestration: a generator function of (context, input). */
export type OrchestrationFunction<I = unknown, O = unknown> = (
  ctx: OrchestrationContext,
  input: I,
) => Generator<unknown, O, unknown>;

export type ReplayResult =
  | { kind: "continue" }
  | { kind: "completed"; output: string }
  | { kind: "failed"; details: ErrorDetails }
  | { kind: "continueAsNew"; input: string; version: string | null };

/** A quiescence guard: a turn whose code keeps producing new work without waiting is broken. */
const MAX_QUIESCENCE_PASSES = 100;

interface QueueState {
  /** `order` is the arrival's event id, to list leftovers across queues in history order. */
  arrivals: { data: string; order: number; takenBy: LeafTask | null }[];
  /** Bound dequeues in bind order. */
  subscribers: LeafTask[];
}

export interface ReplayInput {
  info: OrchestrationInfo;
  /** Persisted events of the execution being run (may be empty for a new execution). */
  history: readonly Event[];
  /** The turn's log: already holds the start event (new execution) and the converted messages. */
  log: EventLog;
  input: unknown;
  kvSnapshot: Map<string, KvEntry>;
  /** The execution's starting custom status (carried over continue-as-new). */
  initialCustomStatus: string | null;
  handler: OrchestrationFunction;
  trace: (level: LogLevel, message: string) => void;
  /**
   * The rules for dropped subscriptions, from the execution's stamp (semver.ts, notes §2.5).
   * "fixed" (default): a dropped wait or dequeue leaves matching the moment it is dropped.
   * "legacy" (stamped below 0.1.31): it keeps its place until its cancellation breadcrumb is
   * applied, and a raised event may reach a wait the code emitted but history has not bound yet.
   */
  policy?: ReplayPolicy;
}

export class ReplayEngine implements TaskHost, ContextHost {
  isReplaying = false;
  readonly kv: Map<string, KvEntry>;
  customStatus: string | null;

  private readonly fifo: { action: Action; leaf: LeafTask | null }[] = [];
  /** Bound leaves by schedule event id. */
  private readonly bound = new Map<number, LeafTask>();
  /** Schedules still waiting for a completion. */
  private readonly open = new Map<number, LeafTask>();
  private readonly waits = new Map<string, LeafTask[]>();
  private readonly queues = new Map<string, QueueState>();
  /** Leaves whose schedule event was created this turn, in id order. */
  readonly newLeaves: LeafTask[] = [];
  private continueAsNewRequest: { input: string; version: string | null } | null = null;
  private root: CoroutineTask | null = null;
  /** Bumped whenever a queue hand-out changes outside a poll's own path, to re-poll. */
  private queueChanges = 0;

  readonly policy: ReplayPolicy;

  constructor(private readonly input: ReplayInput) {
    this.kv = new Map([...input.kvSnapshot].map(([k, e]) => [k, { ...e }]));
    this.customStatus = input.initialCustomStatus;
    this.policy = input.policy ?? "fixed";
  }

  /** Run the turn. Never throws: nondeterminism and engine faults become a failed result. */
  run(): ReplayResult {
    try {
      return this.walk();
    } catch (error) {
      if (error instanceof NondeterminismError)
        return { kind: "failed", details: nondeterminism(error.message) };
      return {
        kind: "failed",
        details: { Application: { kind: "Panicked", message: errorMessage(error), retryable: false } },
      };
    }
  }

  /** The persisted events the turn started from. */
  historyEvents(): readonly Event[] {
    return this.input.history;
  }

  /** Leaves that lost a race and still hold a schedule: their cancellation is due. */
  droppedLeaves(): LeafTask[] {
    return [...this.bound.values()].filter((leaf) => leaf.isDropped).sort((a, b) => a.eventId! - b.eventId!);
  }

  /**
   * Queue messages of this execution to carry over continue-as-new, in arrival order. Arrivals
   * after the point where the code finished were never applied to a queue: they count as unread.
   * Fixed policy: exactly the messages the code never received — one held by a dequeue the code
   * did not await again is unread, whatever later dequeues read. Legacy: those not taken by a
   * subscription that is still live (a dropped one keeps its message until its breadcrumb).
   */
  unconsumedQueueMessages(): [string, string][] {
    const taken = new Set<number>();
    for (const queue of this.queues.values()) {
      for (const a of queue.arrivals) {
        if (!a.takenBy) continue;
        const consumed = this.policy === "fixed" ? a.takenBy.read : !a.takenBy.cancelled;
        if (consumed) taken.add(a.order);
      }
    }
    return [...this.input.history, ...this.input.log.delta]
      .filter((e) => e.type === "ExternalEventPersistent" && !taken.has(e.event_id))
      .map((e) => (e.type === "ExternalEventPersistent" ? [e.name, e.data] : ["", ""]));
  }

  // --- the walk -------------------------------------------------------------------------------

  private walk(): ReplayResult {
    const { history, log } = this.input;
    const working = [...history, ...log.delta];
    const first = working[0];
    if (first?.type !== "OrchestrationStarted") {
      throw new NondeterminismError("corrupted history: the first event is not OrchestrationStarted");
    }
    const ctx = new OrchestrationContext(this.input.info, this);
    this.isReplaying = history.length > 0;
    this.root = new CoroutineTask(this.invoke(ctx));
    this.root.start(this);
    this.pump();

    for (let i = 1; i < working.length && !this.finished(); i++) {
      this.isReplaying = i < history.length;
      if (this.apply(working[i]!)) this.pump();
    }
    this.isReplaying = false;
    this.pump();

    for (let pass = 0; !this.finished(); pass++) {
      if (this.fifo.length === 0) break;
      if (pass >= MAX_QUIESCENCE_PASSES) {
        return {
          kind: "failed",
          details: {
            Infrastructure: {
              operation: "quiescence_loop",
              message: `the orchestration kept producing work for ${MAX_QUIESCENCE_PASSES} passes without waiting`,
              retryable: false,
            },
          },
        };
      }
      this.allocate();
      this.pump();
    }
    // Actions emitted by the final step (a detached start or a status update just before returning
    // or continuing as new) are new work too.
    if (this.fifo.length > 0) this.allocate();

    if (this.continueAsNewRequest) return { kind: "continueAsNew", ...this.continueAsNewRequest };
    const outcome = this.root.outcome;
    if (!outcome) return { kind: "continue" };
    if (outcome.ok) {
      try {
        return { kind: "completed", output: toJson(outcome.value, "orchestration output") };
      } catch (error) {
        return { kind: "failed", details: applicationError("OrchestrationFailed", errorMessage(error)) };
      }
    }
    return { kind: "failed", details: failureDetails(outcome.error) };
  }

  /** Wraps the user's generator so that a synchronous throw at creation is an ordinary failure. */
  private *invoke(ctx: OrchestrationContext): Generator<unknown, unknown, unknown> {
    const generator = this.input.handler(ctx, this.input.input);
    if (!generator || typeof (generator as Generator).next !== "function") {
      throw new TypeError("an orchestration must be a generator function (function*), not an async function");
    }
    return yield* generator;
  }

  private finished(): boolean {
    return this.continueAsNewRequest !== null || this.root?.outcome !== undefined;
  }

  private pump(): void {
    if (!this.root || this.continueAsNewRequest) return;
    for (;;) {
      const before = this.queueChanges;
      this.root.poll(this);
      if (this.root.outcome || this.continueAsNewRequest || before === this.queueChanges) return;
    }
  }

  /** Apply one history event; true when it may have unblocked the code. */
  private apply(event: Event): boolean {
    if (SCHEDULE_EVENT_TYPES.has(event.type)) return this.bindSchedule(event);
    if (RECORD_EVENT_TYPES.has(event.type)) {
      const head = this.fifo[0];
      if (!head) return false; // tolerated: record actions carry no result
      const why = mismatch(head.action, event);
      if (why) throw new NondeterminismError(why);
      this.fifo.shift();
      if (head.action.kind === "kvSet" && event.type === "KeyValueSet") {
        // Replayed writes keep the time they were first made, so prune decisions replay too.
        head.action.entry.lastUpdatedAtMs = event.last_updated_at_ms;
      }
      return false;
    }
    switch (event.type) {
      case "ActivityCompleted":
      case "ActivityFailed":
      case "TimerFired":
      case "SubOrchestrationCompleted":
      case "SubOrchestrationFailed":
        return this.complete(event);
      case "ExternalEvent": {
        const waiter =
          (this.waits.get(event.name) ?? []).find((leaf) => !leaf.cancelled && !leaf.outcome) ??
          (this.policy === "legacy" ? this.emittedWait(event.name) : undefined);
        if (!waiter) return false; // raised before anyone waited: recorded, never delivered
        waiter.outcome = { ok: true, value: waiter.decode(event.data) };
        return true;
      }
      case "ExternalEventPersistent": {
        const queue = this.queue(event.name);
        queue.arrivals.push({ data: event.data, order: event.event_id, takenBy: null });
        this.handOut(event.name);
        return true;
      }
      case "ExternalSubscribedCancelled":
      case "ExternalSubscribedPersistentCancelled": {
        const leaf = event.source_event_id === null ? undefined : this.bound.get(event.source_event_id);
        if (leaf && !leaf.cancelled) this.cancelSubscription(leaf);
        return false;
      }
      default:
        return false; // lifecycle events and cancel breadcrumbs are passive during replay
    }
  }

  private bindSchedule(event: Event): boolean {
    const head = this.fifo.shift();
    if (!head) {
      throw new NondeterminismError(
        `history schedule but no emitted action: history has ${describeEvent(event)} but the code is waiting without scheduling it`,
      );
    }
    const why = mismatch(head.action, event);
    if (why || !head.leaf)
      throw new NondeterminismError(why ?? `schedule mismatch: ${describeAction(head.action)}`);
    return this.bind(head.leaf, event);
  }

  private bind(leaf: LeafTask, event: Event): boolean {
    leaf.eventId = event.event_id;
    this.bound.set(event.event_id, leaf);
    switch (leaf.action.kind) {
      case "activity":
      case "timer":
      case "subOrchestration":
        if (event.type === "TimerCreated") leaf.fireAtMs = event.fire_at_ms;
        this.open.set(event.event_id, leaf);
        return false;
      case "wait":
        if (leaf.isDropped && this.policy === "fixed") leaf.cancelled = true;
        this.list(this.waits, leaf.action.name).push(leaf);
        return false;
      case "dequeue":
        if (leaf.isDropped && this.policy === "fixed") leaf.cancelled = true;
        this.queue(leaf.action.name).subscribers.push(leaf);
        this.handOut(leaf.action.name);
        return leaf.outcome !== undefined;
      case "detached":
        return true;
    }
  }

  private complete(event: Event): boolean {
    const id = event.source_event_id;
    const leaf = id === null ? undefined : this.open.get(id);
    if (!leaf)
      throw new NondeterminismError(`completion without open schedule: ${describeEvent(event)} → #${id}`);
    const expected =
      event.type === "TimerFired"
        ? "timer"
        : event.type.startsWith("Activity")
          ? "activity"
          : "subOrchestration";
    if (leaf.action.kind !== expected) {
      throw new NondeterminismError(
        `completion kind mismatch: ${describeEvent(event)} for ${describeAction(leaf.action)}#${id}`,
      );
    }
    this.open.delete(id!);
    leaf.outcome = completionOutcome(event, leaf);
    return true;
  }

  /** Give queued messages to live dequeues, earliest subscriber first. */
  private handOut(name: string): void {
    const queue = this.queue(name);
    for (const leaf of queue.subscribers) {
      if (leaf.cancelled || leaf.outcome) continue;
      const arrival = queue.arrivals.find((a) => !a.takenBy);
      if (!arrival) return;
      arrival.takenBy = leaf;
      leaf.outcome = { ok: true, value: leaf.decode(arrival.data) };
      this.queueChanges++;
    }
  }

  private cancelSubscription(leaf: LeafTask): void {
    leaf.cancelled = true;
    // Legacy: a message a dropped dequeue took before its breadcrumb stays taken (it is lost, or
    // carried over continue-as-new), exactly as the run that recorded the history decided.
    if (leaf.action.kind !== "dequeue" || this.policy === "legacy") return;
    // A dequeue that lost a race takes no message: give it back to the next live dequeue.
    const queue = this.queue(leaf.action.name);
    const taken = queue.arrivals.find((a) => a.takenBy === leaf);
    if (taken) {
      taken.takenBy = null;
      this.handOut(leaf.action.name);
    }
  }

  /** New actions: give each the next event id, in emission order. */
  private allocate(): void {
    const { log } = this.input;
    while (this.fifo.length > 0) {
      const { action, leaf } = this.fifo.shift()!;
      switch (action.kind) {
        case "customStatus":
          log.append({ type: "CustomStatusUpdated", status: action.status });
          continue;
        case "kvSet":
          log.append({
            type: "KeyValueSet",
            key: action.key,
            value: action.value,
            last_updated_at_ms: action.entry.lastUpdatedAtMs,
          });
          continue;
        case "kvClear":
          log.append({ type: "KeyValueCleared", key: action.key });
          continue;
        case "kvClearAll":
          log.append({ type: "KeyValuesCleared" });
          continue;
      }
      if (!leaf) continue;
      let event: Event;
      switch (action.kind) {
        case "activity":
          event = log.append({
            type: "ActivityScheduled",
            name: action.name,
            input: action.input,
            ...(action.sessionId !== undefined ? { session_id: action.sessionId } : {}),
            ...(action.tag !== undefined ? { tag: action.tag } : {}),
          });
          break;
        case "timer":
          event = log.append({ type: "TimerCreated", fire_at_ms: log.clock() + action.delayMs });
          break;
        case "wait":
          event = log.append({ type: "ExternalSubscribed", name: action.name });
          break;
        case "dequeue":
          event = log.append({ type: "ExternalSubscribedPersistent", name: action.name });
          break;
        case "subOrchestration":
          event = log.append({
            type: "SubOrchestrationScheduled",
            name: action.name,
            instance: action.instance ?? autoChildId(log.executionId, log.peekId()),
            input: action.input,
          });
          break;
        case "detached":
          event = log.append({
            type: "OrchestrationChained",
            name: action.name,
            instance: action.instance,
            input: action.input,
          });
          break;
      }
      this.newLeaves.push(leaf);
      this.bind(leaf, event);
      if (leaf.inline) {
        // utcNow/newGuid: decided now and recorded as a completed system activity, so a replay
        // reads the same value from history without a worker round trip.
        log.append({ type: "ActivityCompleted", result: leaf.inline() }, event.event_id);
        this.complete(log.delta[log.delta.length - 1]!);
      }
    }
  }

  // --- TaskHost -------------------------------------------------------------------------------

  emit(leaf: LeafTask): void {
    this.fifo.push({ action: leaf.action, leaf });
  }

  dropped(leaf: LeafTask): void {
    // Legacy executions cancel a subscription only when its breadcrumb is applied (apply()).
    if (this.policy === "legacy") return;
    if ((leaf.action.kind === "wait" || leaf.action.kind === "dequeue") && leaf.eventId !== null) {
      this.cancelSubscription(leaf);
    }
  }

  continueAsNew(input: string, version: string | null): void {
    this.continueAsNewRequest ??= { input, version };
  }

  // --- ContextHost ----------------------------------------------------------------------------

  record(action: RecordAction): void {
    this.fifo.push({ action, leaf: null });
  }

  trace(level: LogLevel, message: string): void {
    if (!this.isReplaying) this.input.trace(level, message);
  }

  // --- helpers --------------------------------------------------------------------------------

  /** Legacy only: a wait for `name` the code has emitted but history has not bound yet. */
  private emittedWait(name: string): LeafTask | undefined {
    for (const { action, leaf } of this.fifo) {
      if (action.kind === "wait" && action.name === name && leaf && !leaf.cancelled && !leaf.outcome)
        return leaf;
    }
    return undefined;
  }

  private queue(name: string): QueueState {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = { arrivals: [], subscribers: [] };
      this.queues.set(name, queue);
    }
    return queue;
  }

  private list(map: Map<string, LeafTask[]>, name: string): LeafTask[] {
    let list = map.get(name);
    if (!list) {
      list = [];
      map.set(name, list);
    }
    return list;
  }
}

function completionOutcome(event: Event, leaf: LeafTask): Outcome {
  switch (event.type) {
    case "ActivityCompleted":
      return { ok: true, value: leaf.decode(event.result) };
    case "SubOrchestrationCompleted":
      return { ok: true, value: leaf.decode(event.result) };
    case "TimerFired":
      return { ok: true, value: null };
    case "ActivityFailed":
    case "SubOrchestrationFailed":
      return { ok: false, error: new TaskFailedError(event.details) };
    default:
      throw new NondeterminismError(`not a completion: ${describeEvent(event)}`);
  }
}

/** What an orchestration's uncaught error becomes. */
function failureDetails(error: unknown): ErrorDetails {
  if (error instanceof TaskFailedError && !("Application" in error.details)) return error.details;
  if (error instanceof PayloadError) return applicationError("OrchestrationFailed", error.message);
  return applicationError("OrchestrationFailed", errorMessage(error));
}
