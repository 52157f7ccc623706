/**
 * Turning a fetched batch into history events (docs/replay-rules.md §3): stale completions (addressed to
 * another execution) and duplicates are dropped, completions without a matching schedule abort the
 * turn as nondeterministic, and system-error failures of activities and children abort the turn
 * with their own details.
 */
import type { ErrorDetails, Event, WorkItem } from "../provider/types.ts";
import type { MessageConversion } from "./commands/command.ts";
import { COMPLETION_EVENT_TYPES, converterFor } from "./commands/registry.ts";
import { nondeterminism } from "./errors.ts";
import type { EventLog } from "./events.ts";

export interface ConversionResult {
  /** Set when the turn must fail without running the code. */
  abortError: ErrorDetails | null;
  /** Why messages were dropped, for debug logs. */
  dropped: string[];
}

/**
 * Each completion or arrival message is converted by the command that owns it (commands/); the
 * filters they share are here. A cancel request is the instance's, not a command's.
 */
export function convertMessages(
  history: readonly Event[],
  messages: readonly WorkItem[],
  log: EventLog,
): ConversionResult {
  const schedules = new Map<number, Event["type"]>();
  const completed = new Set<number>();
  let cancelRequested = false;
  const note = (event: Event) => {
    if (COMPLETION_EVENT_TYPES.has(event.type) && event.source_event_id !== null)
      completed.add(event.source_event_id);
    else if (event.type === "OrchestrationCancelRequested") cancelRequested = true;
    else schedules.set(event.event_id, event.type);
  };
  for (const event of history) note(event);
  for (const event of log.delta) note(event);

  const result: ConversionResult = { abortError: null, dropped: [] };
  const conversion: MessageConversion = {
    log,
    abort: (details) => {
      result.abortError ??= details;
    },
    /** Common filters for completions; true when the completion should be recorded. */
    accept: (executionId, id, scheduleType, what) => {
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
        conversion.abort(
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
    },
  };

  for (const message of messages) {
    const convert = converterFor(message);
    if (convert) {
      convert(conversion);
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
