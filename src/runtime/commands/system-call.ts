/**
 * System calls (docs/replay-rules.md §13.8): `utcNow`, `newGuid` and `getValueFromInstance`, recorded as
 * activities under duroxide's reserved names so histories stay compatible. utcNow and newGuid are
 * decided in the turn and recorded at once as a completed activity (a replay reads the same value
 * without a worker round trip); getValueFromInstance is a real activity run by a worker.
 */

import { activity, activityCompletions, cancelDroppedActivity, describeActivity } from "./activity.ts";
import type { ScheduleCommand } from "./command.ts";

export const SYSCALL_PREFIX = "__duroxide_syscall:";
export const SYSCALL_UTC_NOW = `${SYSCALL_PREFIX}utc_now_ms`;
export const SYSCALL_NEW_GUID = `${SYSCALL_PREFIX}new_guid`;
export const SYSCALL_GET_KV = `${SYSCALL_PREFIX}get_kv_value`;

export interface SystemCallAction {
  kind: "systemCall";
  name: string;
  input: string;
  /** The result computed in the turn (utcNow, newGuid); null when a worker runs the call. */
  inline: (() => string) | null;
}

export const systemCall: ScheduleCommand<SystemCallAction> = {
  family: "schedule",
  kind: "systemCall",
  recordedAs: "ActivityScheduled",
  matches: (action, event) =>
    event.type === "ActivityScheduled" &&
    action.name === event.name &&
    action.input === event.input &&
    (event.session_id ?? null) === null &&
    (event.tag ?? null) === null,
  describe: (action) => describeActivity(action.name, action.input),
  schedule: (action) => ({ type: "ActivityScheduled", name: action.name, input: action.input }),
  bind(leaf, state) {
    state.open.set(leaf.eventId!, leaf);
    return false;
  },
  completions: activityCompletions,
  completeAtOnce(leaf, scheduled, log) {
    const { inline } = leaf.action as SystemCallAction;
    return inline ? log.append({ type: "ActivityCompleted", result: inline() }, scheduled.event_id) : null;
  },
  cancelDropped(leaf, turn) {
    if (!(leaf.action as SystemCallAction).inline) cancelDroppedActivity(leaf, turn);
  },
  dispatch(created, turn, live) {
    if (!(created.leaf.action as SystemCallAction).inline) activity.dispatch!(created, turn, live);
  },
};
