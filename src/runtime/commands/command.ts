/**
 * The contract every durable command kind implements. A kind owns everything about itself: the
 * action the code emits, the history event that records it, how replay matches that event to the
 * action (and how both are described in a nondeterminism error), what completes it, how a fetched
 * message becomes its completion event, which work items it sends, and what happens when the code
 * drops it or the execution ends. The replay engine, the message conversion and the turn planner
 * only walk the registry (registry.ts); none of them switches on a kind.
 */
import type {
  ErrorDetails,
  Event,
  EventKind,
  EventOf,
  EventType,
  WorkItem,
  WorkItemKind,
} from "../../provider/types.ts";
import type { EventLog } from "../events.ts";
import type { ReplayPolicy } from "../semver.ts";
import type { LeafTask, Outcome } from "../tasks.ts";
import type { CancelledActivities } from "./activity.ts";
import type { ReplayState } from "./replay-state.ts";

/** Members shared by both families: an action kind and the event that records it. */
interface CommandBase<A extends { kind: string }> {
  readonly kind: A["kind"];
  /** The history event written when the action is new, and matched against it during replay. */
  readonly recordedAs: EventType;
  /** True when `event` records `action` (only the fields duroxide compares). */
  matches(action: A, event: Event): boolean;
  /** The action in a nondeterminism message, in the shape of the event it would write. */
  describe(action: A): string;
  /** The recorded event in a nondeterminism message (`describeRecorded` of registry.ts falls back). */
  describeEvent?(event: Event): string;
}

/** A command the code yields and may wait on: it becomes a LeafTask bound to its schedule event. */
export interface ScheduleCommand<A extends { kind: string } = { kind: string }> extends CommandBase<A> {
  readonly family: "schedule";
  /** The schedule event of a new action. */
  schedule(action: A, log: EventLog): EventKind;
  /** The leaf is now bound to its schedule event; true when that may have unblocked the code. */
  bind(leaf: LeafTask, state: ReplayState): boolean;
  /** Completion events of this command and the outcome each gives the code. */
  readonly completions?: Completions;
  /** Other history events this kind reacts to during replay; true when the code may be unblocked. */
  readonly reactsTo?: Partial<Record<EventType, (event: Event, state: ReplayState) => boolean>>;
  /** A new schedule decided in the turn (system calls): its completion event, appended at once. */
  completeAtOnce?(leaf: LeafTask, scheduled: Event, log: EventLog): Event | null;
  /** Subscriptions only: stop taking arrivals (a race loser, or its breadcrumb replayed). */
  cancel?(leaf: LeafTask, state: ReplayState): void;
  /** The breadcrumbs and items due for a bound leaf the code dropped (a race loser). */
  cancelDropped?(leaf: LeafTask, turn: TurnOutput): void;
  /** Work items for a schedule created this turn; `live` is false when they must not be sent. */
  dispatch?(created: CreatedCommand, turn: TurnOutput, live: boolean): void;
  /** The execution ends (`ending`): cancel what this kind still has outstanding. */
  onExecutionEnd?(turn: TurnOutput, ending: ExecutionEnding): void;
}

/** A command recorded by a plain context call (status, KV): an event and no result. */
export interface RecordCommand<A extends { kind: string } = { kind: string }> extends CommandBase<A> {
  readonly family: "record";
  record(action: A): EventKind;
  /** The action was matched to its recorded event during replay. */
  replayed?(action: A, event: Event): void;
}

export type Command = ScheduleCommand | RecordCommand;

/** Completion handlers by event type: the outcome each completion gives the code. */
export type Completions = { [T in EventType]?: (event: EventOf<T>, leaf: LeafTask) => Outcome };

/** How an execution ends, as cancellation breadcrumbs name it. */
export type ExecutionEnding = "completed" | "failed" | "continued_as_new" | "cancelled";

/** A schedule created this turn, with the event that records it. */
export interface CreatedCommand {
  leaf: LeafTask;
  event: Event;
}

/** What the turn commits, as the command hooks add to it. */
export interface TurnOutput {
  readonly instance: string;
  readonly executionId: number;
  /** The orchestration of the execution (its OrchestrationStarted): activities carry it to workers. */
  readonly orchestration: { readonly name: string; readonly version: string };
  readonly policy: ReplayPolicy;
  readonly log: EventLog;
  readonly workerItems: WorkItem[];
  readonly orchestratorItems: WorkItem[];
  readonly cancelledActivities: CancelledActivities;
  /** Persisted events then the delta as it stands now. */
  events(): Event[];
}

/** Turning one fetched message into history (message-conversion.ts provides the filters). */
export interface MessageConversion {
  readonly log: EventLog;
  /**
   * The stale-execution, duplicate and schedule checks for a completion of schedule `id`; true
   * when the completion is to be recorded.
   */
  accept(executionId: number, id: number, scheduleType: EventType, what: string): boolean;
  /** Fail the turn without running the code (the first abort wins). */
  abort(details: ErrorDetails): void;
}

/** A command's handling of one message variant. */
export interface MessageConverter<K extends WorkItemKind = WorkItemKind> {
  readonly message: K;
  convert(item: Extract<WorkItem, Record<K, unknown>>[K], conversion: MessageConversion): void;
}

/** Payloads are clipped in messages: the point is which call differs, not the whole input. */
export function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** `${type}#${id}`: the description of an event with nothing more worth showing. */
export function plainEvent(event: Event): string {
  return `${event.type}#${event.event_id}`;
}
