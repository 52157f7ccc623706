/**
 * Duplicate starts (docs/replay-rules.md §8): a StartOrchestration for an instance that already runs —
 * or that shares its batch with the successor's ContinueAsNew — never selects the handler, version
 * or input of the running execution; it is consumed with the batch. A duplicate sent by a parent
 * (a sub-orchestration whose explicit id is taken) must not leave that parent waiting forever: it
 * answers with SubOrchFailed "already exists", unless it is a re-send of the instance's own start.
 */
import type { EventOf, OrchestrationItem, StartOrchestrationItem, WorkItem } from "../provider/types.ts";
import { parentExecutionId } from "./events.ts";

/**
 * The notices the ack must carry for the batch's duplicate starts.
 * `used`: the start item that opened something this turn (null if none); `recorded`: the start of
 * the execution the instance is in (its link decides what counts as a re-send); `terminal`: the
 * instance has completed or failed.
 */
export function collisionNotices(
  item: OrchestrationItem,
  used: StartOrchestrationItem | null,
  recorded: EventOf<"OrchestrationStarted"> | null,
  terminal: boolean,
): WorkItem[] {
  const notices: WorkItem[] = [];
  for (const message of item.messages) {
    if (!("StartOrchestration" in message)) continue;
    const start = message.StartOrchestration;
    if (start === used || !start.parent_instance || start.parent_id === null) continue;
    if (isOwnResend(start, recorded, terminal)) continue;
    notices.push({
      SubOrchFailed: {
        parent_instance: start.parent_instance,
        parent_execution_id: parentExecutionId(start) ?? 1,
        parent_id: start.parent_id,
        details: {
          Application: {
            kind: "OrchestrationFailed",
            message: `an orchestration instance '${start.instance}' already exists`,
            retryable: false,
          },
        },
      },
    });
  }
  return notices;
}

/**
 * A redelivery of the start that created the instance, by its own parent: for a finished instance
 * the parent instance and event id must match; for a running one the parent's execution too, and
 * it must be known on both sides (another execution of the parent is another caller).
 */
function isOwnResend(
  start: StartOrchestrationItem,
  recorded: EventOf<"OrchestrationStarted"> | null,
  terminal: boolean,
): boolean {
  if (
    !recorded ||
    recorded.parent_instance !== start.parent_instance ||
    recorded.parent_id !== start.parent_id
  )
    return false;
  if (terminal) return true;
  const mine = parentExecutionId(start);
  return mine !== null && parentExecutionId(recorded) === mine;
}
