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
import type { CreatedCommand } from "./commands/command.ts";
import { unconsumedMessages } from "./commands/persistent-queue.ts";
import {
  COMPLETION_EVENT_TYPES,
  commandFor,
  completionOf,
  describeAction,
  describeEvent,
  mismatch,
  RECORD_EVENT_TYPES,
  type RecordAction,
  reactionTo,
  SCHEDULE_EVENT_TYPES,
  type ScheduleAction,
} from "./commands/registry.ts";
import { ReplayState } from "./commands/replay-state.ts";
import {
  applicationError,
  errorMessage,
  NondeterminismError,
  nondeterminism,
  TaskFailedError,
} from "./errors.ts";
import type { EventLog } from "./events.ts";
import { PayloadError, toJson } from "./json.ts";
import {
  type ContextHost,
  type LogLevel,
  OrchestrationContext,
  type OrchestrationInfo,
} from "./orchestration-context.ts";
import type { ReplayPolicy } from "./semver.ts";
import { CoroutineTask, type LeafTask, type TaskHost } from "./tasks.ts";

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
   * The rules for dropped subscriptions, from the execution's stamp (semver.ts, docs/replay-rules.md §9).
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

  /** Emitted actions not matched yet: a schedule with its leaf, or a record action. */
  private readonly fifo: (
    | { action: ScheduleAction; leaf: LeafTask }
    | { action: RecordAction; leaf: null }
  )[] = [];
  private readonly state: ReplayState;
  /** Schedules created this turn, with their events, in id order. */
  readonly created: CreatedCommand[] = [];
  private continueAsNewRequest: { input: string; version: string | null } | null = null;
  private root: CoroutineTask | null = null;

  readonly policy: ReplayPolicy;

  constructor(private readonly input: ReplayInput) {
    this.kv = new Map([...input.kvSnapshot].map(([k, e]) => [k, { ...e }]));
    this.customStatus = input.initialCustomStatus;
    this.policy = input.policy ?? "fixed";
    this.state = new ReplayState(this.policy, () => this.unboundLeaves());
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
    return [...this.state.bound.values()]
      .filter((leaf) => leaf.isDropped)
      .sort((a, b) => a.eventId! - b.eventId!);
  }

  /** Queue messages of this execution to carry over continue-as-new, in arrival order. */
  unconsumedQueueMessages(): [string, string][] {
    return unconsumedMessages([...this.input.history, ...this.input.log.delta], this.state);
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
      const before = this.state.changes;
      this.root.poll(this);
      if (this.root.outcome || this.continueAsNewRequest || before === this.state.changes) return;
    }
  }

  /** Apply one history event; true when it may have unblocked the code. */
  private apply(event: Event): boolean {
    if (SCHEDULE_EVENT_TYPES.has(event.type)) return this.bindSchedule(event);
    if (RECORD_EVENT_TYPES.has(event.type)) return this.matchRecord(event);
    if (COMPLETION_EVENT_TYPES.has(event.type)) return this.complete(event);
    // Arrivals and subscription breadcrumbs; lifecycle events and other cancel breadcrumbs are
    // passive during replay.
    return reactionTo(event.type)?.(event, this.state) ?? false;
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

  /** A record action's event: matched if one is pending (record actions carry no result). */
  private matchRecord(event: Event): boolean {
    const head = this.fifo[0];
    if (!head) return false;
    const why = mismatch(head.action, event);
    if (why) throw new NondeterminismError(why);
    this.fifo.shift();
    if (!head.leaf) commandFor(head.action).replayed?.(head.action, event);
    return false;
  }

  private bind(leaf: LeafTask, event: Event): boolean {
    leaf.bindTo(event.event_id);
    this.state.bound.set(event.event_id, leaf);
    return commandFor(leaf.action).bind(leaf, this.state);
  }

  /** A completion: it must close an open schedule of a command that it completes. */
  private complete(event: Event): boolean {
    const id = event.source_event_id;
    const leaf = id === null ? undefined : this.state.open.get(id);
    if (!leaf)
      throw new NondeterminismError(`completion without open schedule: ${describeEvent(event)} → #${id}`);
    const outcome = completionOf(leaf.action, event);
    if (!outcome) {
      throw new NondeterminismError(
        `completion kind mismatch: ${describeEvent(event)} for ${describeAction(leaf.action)}#${id}`,
      );
    }
    this.state.open.delete(id!);
    leaf.settle(outcome(event, leaf));
    return true;
  }

  /** New actions: give each the next event id, in emission order. */
  private allocate(): void {
    const { log } = this.input;
    while (this.fifo.length > 0) {
      const head = this.fifo.shift()!;
      if (!head.leaf) {
        log.append(commandFor(head.action).record(head.action));
        continue;
      }
      const { leaf } = head;
      const command = commandFor(leaf.action);
      const event = log.append(command.schedule(leaf.action, log));
      this.created.push({ leaf, event });
      this.bind(leaf, event);
      const completion = command.completeAtOnce?.(leaf, event, log);
      if (completion) this.complete(completion);
    }
  }

  // --- TaskHost -------------------------------------------------------------------------------

  emit(leaf: LeafTask): void {
    this.fifo.push({ action: leaf.action, leaf });
  }

  dropped(leaf: LeafTask): void {
    // Legacy executions cancel a subscription only when its breadcrumb is applied (apply()).
    if (this.policy === "legacy") return;
    if (leaf.eventId !== null) this.state.cancelSubscription(leaf);
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

  /** Leaves the code emitted that history has not bound yet, in emission order. */
  private *unboundLeaves(): Generator<LeafTask> {
    for (const { leaf } of this.fifo) if (leaf) yield leaf;
  }
}

/** What an orchestration's uncaught error becomes. */
function failureDetails(error: unknown): ErrorDetails {
  if (error instanceof TaskFailedError && !("Application" in error.details)) return error.details;
  if (error instanceof PayloadError) return applicationError("OrchestrationFailed", error.message);
  return applicationError("OrchestrationFailed", errorMessage(error));
}
