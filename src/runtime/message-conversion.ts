/**
 * Turning a fetched batch into history events (runtime notes §1.3): stale completions (addressed to
 * another execution) and duplicates are dropped, completions without a matching schedule abort the
 * turn as nondeterministic, and system-error failures of activities and children abort the turn
 * with their own details.
 */
import type { ErrorDetails, Event, WorkItem } from "../provider/types.ts";
import { isApplicationError, nondeterminism } from "./errors.ts";
import type { EventLog } from "./events.ts";

export interface ConversionResult {
  /** Set when the turn must fail without running the code. */
  abortError: ErrorDetails | null;
  /** Why messages were dropped, for debug logs. */
  dropped: string[];
}

const COMPLETION_TYPES = new Set<Event["type"]>([
  "ActivityCompleted",
  "ActivityFailed",
  "TimerFired",
  "SubOrchestrationCompleted",
  "SubOrchestrationFailed",
]);

export function convertMessages(
  history: readonly Event[],
  messages: readonly WorkItem[],
  log: EventLog,
): ConversionResult {
  const schedules = new Map<number, Event["type"]>();
  const completed = new Set<number>();
  let cancelRequested = false;
  const note = (event: Event) => {
    if (COMPLETION_TYPES.has(event.type) && event.source_event_id !== null)
      completed.add(event.source_event_id);
    else if (event.type === "OrchestrationCancelRequested") cancelRequested = true;
    else schedules.set(event.event_id, event.type);
  };
  for (const event of history) note(event);
  for (const event of log.delta) note(event);

  const result: ConversionResult = { abortError: null, dropped: [] };
  const abort = (details: ErrorDetails) => {
    result.abortError ??= details;
  };

  /** Common filters for completions; true when the completion should be recorded. */
  const accept = (executionId: number, id: number, scheduleType: Event["type"], what: string): boolean => {
    if (executionId !== log.executionId) {
      result.dropped.push(`${what} for execution ${executionId} (current ${log.executionId})`);
      return false;
    }
    if (completed.has(id)) {
      result.dropped.push(`duplicate ${what} for event ${id}`);
      return false;
    }
    const type = schedules.get(id);
    if (type !== scheduleType) {
      abort(
        nondeterminism(
          type === undefined
            ? `no matching schedule for completion id=${id} (${what})`
            : `completion kind mismatch: ${what} for ${type}#${id}`,
        ),
      );
      return false;
    }
    completed.add(id);
    return true;
  };

  for (const message of messages) {
    if ("ActivityCompleted" in message) {
      const m = message.ActivityCompleted;
      if (accept(m.execution_id, m.id, "ActivityScheduled", "ActivityCompleted")) {
        log.append({ type: "ActivityCompleted", result: m.result }, m.id);
      }
    } else if ("ActivityFailed" in message) {
      const m = message.ActivityFailed;
      if (accept(m.execution_id, m.id, "ActivityScheduled", "ActivityFailed")) {
        log.append({ type: "ActivityFailed", details: m.details }, m.id);
        if (!isApplicationError(m.details)) abort(m.details);
      }
    } else if ("TimerFired" in message) {
      const m = message.TimerFired;
      if (accept(m.execution_id, m.id, "TimerCreated", "TimerFired")) {
        log.append({ type: "TimerFired", fire_at_ms: m.fire_at_ms }, m.id);
      }
    } else if ("SubOrchCompleted" in message) {
      const m = message.SubOrchCompleted;
      if (accept(m.parent_execution_id, m.parent_id, "SubOrchestrationScheduled", "SubOrchCompleted")) {
        log.append({ type: "SubOrchestrationCompleted", result: m.result }, m.parent_id);
      }
    } else if ("SubOrchFailed" in message) {
      const m = message.SubOrchFailed;
      if (accept(m.parent_execution_id, m.parent_id, "SubOrchestrationScheduled", "SubOrchFailed")) {
        log.append({ type: "SubOrchestrationFailed", details: m.details }, m.parent_id);
        if (!isApplicationError(m.details)) abort(m.details);
      }
    } else if ("ExternalRaised" in message) {
      log.append({
        type: "ExternalEvent",
        name: message.ExternalRaised.name,
        data: message.ExternalRaised.data,
      });
    } else if ("QueueMessage" in message) {
      log.append({
        type: "ExternalEventPersistent",
        name: message.QueueMessage.name,
        data: message.QueueMessage.data,
      });
    } else if ("CancelInstance" in message) {
      if (!cancelRequested) {
        cancelRequested = true;
        log.append({ type: "OrchestrationCancelRequested", reason: message.CancelInstance.reason });
      }
    }
    // StartOrchestration / ContinueAsNew duplicates and stray ActivityExecute items are ignored.
  }
  return result;
}
