/**
 * The command registry: every kind of durable command, and the lookups the replay engine, the
 * message conversion and the turn planner use instead of switching on a kind. Adding a kind is
 * adding its module and one line here. Continue-as-new is not listed: it is not matched against
 * history but ends the execution (continue-as-new.ts).
 */
import type { Event, EventType, WorkItem } from "../../provider/types.ts";
import type { LeafTask, Outcome } from "../tasks.ts";
import { type ActivityAction, activity, activityCompleted, activityFailed } from "./activity.ts";
import type {
  Command,
  MessageConversion,
  MessageConverter,
  RecordCommand,
  ScheduleCommand,
} from "./command.ts";
import { plainEvent } from "./command.ts";
import { type CustomStatusAction, customStatus } from "./custom-status.ts";
import { type DetachedAction, detachedStart } from "./detached-start.ts";
import { externalEvent, externalRaised, type WaitAction } from "./external-event.ts";
import {
  type KvClearAction,
  type KvClearAllAction,
  type KvSetAction,
  kvClear,
  kvClearAll,
  kvSet,
} from "./key-value.ts";
import { type DequeueAction, persistentQueue, queueMessage } from "./persistent-queue.ts";
import {
  type SubOrchestrationAction,
  subOrchCompleted,
  subOrchestration,
  subOrchFailed,
} from "./sub-orchestration.ts";
import { type SystemCallAction, systemCall } from "./system-call.ts";
import { type TimerAction, timer, timerFired } from "./timer.ts";

/** Actions the code yields and may wait on. */
export type ScheduleAction =
  | ActivityAction
  | SystemCallAction
  | TimerAction
  | WaitAction
  | DequeueAction
  | SubOrchestrationAction
  | DetachedAction;

/** Actions emitted by plain context calls (no yield): they leave an event but wait for nothing. */
export type RecordAction = CustomStatusAction | KvSetAction | KvClearAction | KvClearAllAction;

export type Action = ScheduleAction | RecordAction;

/**
 * Schedule commands, in the order their end-of-execution cancellations are written (activities
 * before children).
 */
const SCHEDULE_COMMANDS: readonly ScheduleCommand[] = [
  activity,
  systemCall,
  timer,
  externalEvent,
  persistentQueue,
  subOrchestration,
  detachedStart,
];

const RECORD_COMMANDS: readonly RecordCommand[] = [customStatus, kvSet, kvClear, kvClearAll];

/** Converters of the completion and arrival messages, by message variant. */
const MESSAGE_CONVERTERS: readonly MessageConverter[] = [
  activityCompleted,
  activityFailed,
  timerFired,
  subOrchCompleted,
  subOrchFailed,
  externalRaised,
  queueMessage,
] as readonly MessageConverter[];

const byKind = new Map<string, Command>([...SCHEDULE_COMMANDS, ...RECORD_COMMANDS].map((c) => [c.kind, c]));

export function commandFor(action: ScheduleAction): ScheduleCommand;
export function commandFor(action: RecordAction): RecordCommand;
export function commandFor(action: Action): Command;
export function commandFor(action: Action): Command {
  const command = byKind.get(action.kind);
  if (!command) throw new Error(`no command registered for action kind '${action.kind}'`);
  return command;
}

export const scheduleCommands = (): readonly ScheduleCommand[] => SCHEDULE_COMMANDS;

/** History event types that consume a schedule action during replay. */
export const SCHEDULE_EVENT_TYPES: ReadonlySet<EventType> = new Set(
  SCHEDULE_COMMANDS.map((c) => c.recordedAs),
);

/** History event types that consume a record action (if any is pending). */
export const RECORD_EVENT_TYPES: ReadonlySet<EventType> = new Set(RECORD_COMMANDS.map((c) => c.recordedAs));

/** Completion event types: each closes the schedule named by its source_event_id. */
export const COMPLETION_EVENT_TYPES: ReadonlySet<EventType> = new Set(
  SCHEDULE_COMMANDS.flatMap((c) => Object.keys(c.completions ?? {}) as EventType[]),
);

/** The completion handler a leaf's command has for `event`; undefined when it is not its completion. */
export function completionOf(
  action: ScheduleAction,
  event: Event,
): ((event: Event, leaf: LeafTask) => Outcome) | undefined {
  return commandFor(action).completions?.[event.type] as
    | ((event: Event, leaf: LeafTask) => Outcome)
    | undefined;
}

/** The command that reacts to a non-schedule history event during replay, if any. */
const reactions = new Map(
  SCHEDULE_COMMANDS.flatMap(
    (c) =>
      Object.entries(c.reactsTo ?? {}) as [EventType, NonNullable<ScheduleCommand["reactsTo"]>[EventType]][],
  ),
);
export function reactionTo(type: EventType) {
  return reactions.get(type);
}

/** The conversion of `message` by the command that owns its variant; undefined when none does. */
export function converterFor(message: WorkItem): ((conversion: MessageConversion) => void) | undefined {
  const converter = MESSAGE_CONVERTERS.find((c) => c.message in message);
  if (!converter) return undefined;
  const payload = (message as unknown as Record<string, unknown>)[converter.message];
  return (conversion) =>
    (converter.convert as (item: unknown, c: MessageConversion) => void)(payload, conversion);
}

/** An event in a nondeterminism message, described by the command that records it. */
const describers = new Map<EventType, (event: Event) => string>();
for (const command of [...SCHEDULE_COMMANDS, ...RECORD_COMMANDS]) {
  if (command.describeEvent && !describers.has(command.recordedAs))
    describers.set(command.recordedAs, command.describeEvent);
}
export function describeEvent(event: Event): string {
  return (describers.get(event.type) ?? plainEvent)(event);
}

/** Null when the action is what the event records; otherwise why not (a nondeterminism message). */
export function mismatch(action: Action, event: Event): string | null {
  return (commandFor(action).matches as (a: Action, e: Event) => boolean)(action, event)
    ? null
    : `schedule mismatch: action=${describeAction(action)} vs event=${describeEvent(event)}`;
}

export function describeAction(action: Action): string {
  return (commandFor(action).describe as (a: Action) => string)(action);
}
