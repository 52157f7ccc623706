/**
 * Activities (docs/replay-rules.md §13.1): `ActivityScheduled` records the call (name, input,
 * session and tag are compared during replay), an `ActivityExecute` work item sends it to a worker,
 * and the worker's `ActivityCompleted` / `ActivityFailed` message becomes the completion event. A
 * failure that is not an application error (configuration, infrastructure, poison) fails the turn
 * with its own details. A dropped activity, and every outstanding one when the execution ends, is
 * cancelled: an `ActivityCancelRequested` breadcrumb plus the ack's cancelled-activity list.
 */
import type { Event, ScheduledActivityIdentifier } from "../../provider/types.ts";
import { isApplicationError, TaskFailedError } from "../errors.ts";
import type { LeafTask } from "../tasks.ts";
import {
  type Completions,
  clip,
  type MessageConverter,
  type ScheduleCommand,
  type TurnOutput,
} from "./command.ts";

export interface ActivityAction {
  kind: "activity";
  name: string;
  input: string;
  sessionId?: string;
  tag?: string;
}

/** The activities whose cancellation the ack carries, once each. */
export class CancelledActivities {
  readonly list: ScheduledActivityIdentifier[] = [];
  private readonly seen = new Set<number>();
  constructor(
    private readonly instance: string,
    private readonly executionId: number,
  ) {}
  add(activityId: number): void {
    if (this.seen.has(activityId)) return;
    this.seen.add(activityId);
    this.list.push({ instance: this.instance, executionId: this.executionId, activityId });
  }
}

/** `ActivityScheduled(name, input=…, session=…,tag=…)`: the shared description of action and event. */
export function describeActivity(
  name: string,
  input: string,
  sessionId?: string | null,
  tag?: string | null,
) {
  const extras = [sessionId ? `session=${sessionId}` : "", tag ? `tag=${tag}` : ""].filter(Boolean).join(",");
  return `ActivityScheduled(${name}, input=${clip(input)}${extras ? `, ${extras}` : ""})`;
}

/** Both completions of an ActivityScheduled (user activities and system calls alike). */
export const activityCompletions: Completions = {
  ActivityCompleted: (event, leaf) => ({ ok: true, value: leaf.decode(event.result) }),
  ActivityFailed: (event) => ({ ok: false, error: new TaskFailedError(event.details) }),
};

/** A race loser's activity: ask the worker to stop (ActivityCancelRequested + the ack's list). */
export function cancelDroppedActivity(leaf: LeafTask, turn: TurnOutput): void {
  const id = leaf.eventId!;
  turn.log.append({ type: "ActivityCancelRequested", reason: "dropped_future" }, id);
  turn.cancelledActivities.add(id);
}

/** Schedule events of `type` with neither a completion nor a cancel breadcrumb. */
export function outstanding(events: readonly Event[], type: Event["type"]): Event[] {
  const closed = new Set<number>();
  for (const e of events) if (e.source_event_id !== null) closed.add(e.source_event_id);
  return events.filter((e) => e.type === type && !closed.has(e.event_id));
}

export const activity: ScheduleCommand<ActivityAction> = {
  family: "schedule",
  kind: "activity",
  recordedAs: "ActivityScheduled",
  matches: (action, event) =>
    event.type === "ActivityScheduled" &&
    action.name === event.name &&
    action.input === event.input &&
    (action.sessionId ?? null) === (event.session_id ?? null) &&
    (action.tag ?? null) === (event.tag ?? null),
  describe: (action) => describeActivity(action.name, action.input, action.sessionId, action.tag),
  describeEvent: (event) =>
    event.type === "ActivityScheduled"
      ? `${describeActivity(event.name, event.input, event.session_id, event.tag)}#${event.event_id}`
      : "",
  schedule: (action) => ({
    type: "ActivityScheduled",
    name: action.name,
    input: action.input,
    ...(action.sessionId !== undefined ? { session_id: action.sessionId } : {}),
    ...(action.tag !== undefined ? { tag: action.tag } : {}),
  }),
  bind(leaf, state) {
    state.open.set(leaf.eventId!, leaf);
    return false;
  },
  completions: activityCompletions,
  cancelDropped: cancelDroppedActivity,
  dispatch({ leaf, event }, turn, live) {
    if (!live) return;
    const action = leaf.action as ActivityAction;
    turn.workerItems.push({
      ActivityExecute: {
        instance: turn.instance,
        execution_id: turn.executionId,
        id: event.event_id,
        name: action.name,
        input: action.input,
        ...(action.sessionId !== undefined ? { session_id: action.sessionId } : {}),
        ...(action.tag !== undefined ? { tag: action.tag } : {}),
        // Saves the worker a lookup for its ActivityContext (src/runtime/activity-orchestration.ts).
        orchestration_name: turn.orchestration.name,
        orchestration_version: turn.orchestration.version,
      },
    });
  },
  // Every activity still outstanding is cancelled, system calls included (they record the same
  // event), with breadcrumbs before the terminal event.
  onExecutionEnd(turn, ending) {
    const reason = `orchestration_terminal_${ending === "cancelled" ? "failed" : ending}`;
    for (const scheduled of outstanding(turn.events(), "ActivityScheduled")) {
      turn.log.append({ type: "ActivityCancelRequested", reason }, scheduled.event_id);
      turn.cancelledActivities.add(scheduled.event_id);
    }
  },
};

export const activityCompleted: MessageConverter<"ActivityCompleted"> = {
  message: "ActivityCompleted",
  convert(m, { accept, log }) {
    if (accept(m.execution_id, m.id, "ActivityScheduled", "ActivityCompleted"))
      log.append({ type: "ActivityCompleted", result: m.result }, m.id);
  },
};

export const activityFailed: MessageConverter<"ActivityFailed"> = {
  message: "ActivityFailed",
  convert(m, { accept, abort, log }) {
    if (!accept(m.execution_id, m.id, "ActivityScheduled", "ActivityFailed")) return;
    log.append({ type: "ActivityFailed", details: m.details }, m.id);
    if (!isApplicationError(m.details)) abort(m.details);
  },
};
