/**
 * Actions: what orchestration code asks for, in emission order. Each action either matches the
 * next schedule event of history during replay (§2.1 of the runtime notes) or, when history has
 * run out, becomes a new event. This file knows how to compare an action with an event and how to
 * describe both in a nondeterminism message.
 */
import type { Event } from "../provider/types.ts";

export type ScheduleAction =
  | { kind: "activity"; name: string; input: string; sessionId?: string; tag?: string }
  | { kind: "timer"; delayMs: number }
  | { kind: "wait"; name: string }
  | { kind: "dequeue"; name: string }
  | { kind: "subOrchestration"; name: string; instance: string | null; input: string; version: string | null }
  | { kind: "detached"; name: string; instance: string; input: string; version: string | null };

/** Actions emitted by plain context calls (no yield): they leave an event but wait for nothing. */
export type RecordAction =
  | { kind: "customStatus"; status: string | null }
  | { kind: "kvSet"; key: string; value: string; entry: { value: string; lastUpdatedAtMs: number } }
  | { kind: "kvClear"; key: string }
  | { kind: "kvClearAll" };

export type Action = ScheduleAction | RecordAction;

/** History event types that consume a schedule action during replay. */
export const SCHEDULE_EVENT_TYPES = new Set<Event["type"]>([
  "ActivityScheduled",
  "TimerCreated",
  "ExternalSubscribed",
  "ExternalSubscribedPersistent",
  "SubOrchestrationScheduled",
  "OrchestrationChained",
]);

/** History event types that consume a record action (if any is pending). */
export const RECORD_EVENT_TYPES = new Set<Event["type"]>([
  "CustomStatusUpdated",
  "KeyValueSet",
  "KeyValueCleared",
  "KeyValuesCleared",
]);

/**
 * Null when the action is what the event records; otherwise why not. Only the fields duroxide
 * compares are compared: wall-clock values (fire_at_ms, KV timestamps), child ids and versions,
 * and custom-status values may legitimately differ between runs.
 */
export function mismatch(action: Action, event: Event): string | null {
  const differs = () =>
    `schedule mismatch: action=${describeAction(action)} vs event=${describeEvent(event)}`;
  switch (event.type) {
    case "ActivityScheduled":
      return action.kind === "activity" &&
        action.name === event.name &&
        action.input === event.input &&
        (action.sessionId ?? null) === (event.session_id ?? null) &&
        (action.tag ?? null) === (event.tag ?? null)
        ? null
        : differs();
    case "TimerCreated":
      return action.kind === "timer" ? null : differs();
    case "ExternalSubscribed":
      return action.kind === "wait" && action.name === event.name ? null : differs();
    case "ExternalSubscribedPersistent":
      return action.kind === "dequeue" && action.name === event.name ? null : differs();
    case "SubOrchestrationScheduled":
      return action.kind === "subOrchestration" && action.name === event.name && action.input === event.input
        ? null
        : differs();
    case "OrchestrationChained":
      return action.kind === "detached" &&
        action.name === event.name &&
        action.instance === event.instance &&
        action.input === event.input
        ? null
        : differs();
    case "CustomStatusUpdated":
      return action.kind === "customStatus" ? null : differs();
    case "KeyValueSet":
      return action.kind === "kvSet" && action.key === event.key && action.value === event.value
        ? null
        : differs();
    case "KeyValueCleared":
      return action.kind === "kvClear" && action.key === event.key ? null : differs();
    case "KeyValuesCleared":
      return action.kind === "kvClearAll" ? null : differs();
    default:
      return differs();
  }
}

export function describeAction(action: Action): string {
  switch (action.kind) {
    case "activity": {
      const extras = [
        action.sessionId ? `session=${action.sessionId}` : "",
        action.tag ? `tag=${action.tag}` : "",
      ]
        .filter(Boolean)
        .join(",");
      return `ActivityScheduled(${action.name}, input=${clip(action.input)}${extras ? `, ${extras}` : ""})`;
    }
    case "timer":
      return `TimerCreated(${action.delayMs}ms)`;
    case "wait":
      return `ExternalSubscribed(${action.name})`;
    case "dequeue":
      return `ExternalSubscribedPersistent(${action.name})`;
    case "subOrchestration":
      return `SubOrchestrationScheduled(${action.name}, input=${clip(action.input)})`;
    case "detached":
      return `OrchestrationChained(${action.name}, instance=${action.instance}, input=${clip(action.input)})`;
    case "customStatus":
      return "CustomStatusUpdated";
    case "kvSet":
      return `KeyValueSet(${action.key}=${clip(action.value)})`;
    case "kvClear":
      return `KeyValueCleared(${action.key})`;
    case "kvClearAll":
      return "KeyValuesCleared";
  }
}

export function describeEvent(event: Event): string {
  switch (event.type) {
    case "ActivityScheduled": {
      const extras = [
        event.session_id ? `session=${event.session_id}` : "",
        event.tag ? `tag=${event.tag}` : "",
      ]
        .filter(Boolean)
        .join(",");
      return `ActivityScheduled(${event.name}, input=${clip(event.input)}${extras ? `, ${extras}` : ""})#${event.event_id}`;
    }
    case "ExternalSubscribed":
    case "ExternalSubscribedPersistent":
      return `${event.type}(${event.name})#${event.event_id}`;
    case "SubOrchestrationScheduled":
    case "OrchestrationChained":
      return `${event.type}(${event.name}, input=${clip(event.input)})#${event.event_id}`;
    case "KeyValueSet":
    case "KeyValueCleared":
      return `${event.type}(${event.key})#${event.event_id}`;
    default:
      return `${event.type}#${event.event_id}`;
  }
}

function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
