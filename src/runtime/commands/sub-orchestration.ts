/**
 * Sub-orchestrations (docs/replay-rules.md §13.5): `SubOrchestrationScheduled` records the child (name and
 * input are compared during replay; the stored id is `sub::…` for an auto-named child), a
 * `StartOrchestration` item with the parent link creates it, and the child's final turn answers
 * with `SubOrchCompleted` / `SubOrchFailed`, which become the completion event. A non-application
 * failure propagates up the tree. A dropped child, and every outstanding one when the parent is
 * cancelled, gets a `SubOrchestrationCancelRequested` breadcrumb and a `CancelInstance`.
 */
import type { ErrorDetails, EventOf, StartOrchestrationItem, WorkItem } from "../../provider/types.ts";
import { isApplicationError, TaskFailedError } from "../errors.ts";
import { autoChildId, childInstanceId, parentExecutionId } from "../events.ts";
import { outstanding } from "./activity.ts";
import { clip, type MessageConverter, type ScheduleCommand, type TurnOutput } from "./command.ts";

export interface SubOrchestrationAction {
  kind: "subOrchestration";
  name: string;
  /** The child id the code chose; null for an auto-named child. */
  instance: string | null;
  input: string;
  version: string | null;
}

function cancelChild(turn: TurnOutput, scheduleId: number, reason: string, itemReason: string): void {
  turn.log.append({ type: "SubOrchestrationCancelRequested", reason }, scheduleId);
  const scheduled = turn.events().find((e) => e.event_id === scheduleId);
  if (scheduled?.type === "SubOrchestrationScheduled") {
    turn.orchestratorItems.push({
      CancelInstance: { instance: childInstanceId(turn.instance, scheduled.instance), reason: itemReason },
    });
  }
}

export const subOrchestration: ScheduleCommand<SubOrchestrationAction> = {
  family: "schedule",
  kind: "subOrchestration",
  recordedAs: "SubOrchestrationScheduled",
  matches: (action, event) =>
    event.type === "SubOrchestrationScheduled" && action.name === event.name && action.input === event.input,
  describe: (action) => `SubOrchestrationScheduled(${action.name}, input=${clip(action.input)})`,
  describeEvent: (event) =>
    event.type === "SubOrchestrationScheduled"
      ? `${event.type}(${event.name}, input=${clip(event.input)})#${event.event_id}`
      : "",
  schedule: (action, log) => ({
    type: "SubOrchestrationScheduled",
    name: action.name,
    instance: action.instance ?? autoChildId(log.executionId, log.peekId()),
    input: action.input,
  }),
  bind(leaf, state) {
    state.open.set(leaf.eventId!, leaf);
    return false;
  },
  completions: {
    SubOrchestrationCompleted: (event, leaf) => ({ ok: true, value: leaf.decode(event.result) }),
    SubOrchestrationFailed: (event) => ({ ok: false, error: new TaskFailedError(event.details) }),
  },
  cancelDropped(leaf, turn) {
    cancelChild(turn, leaf.eventId!, "dropped_future", "parent dropped sub-orchestration future");
  },
  dispatch({ leaf, event }, turn, live) {
    if (!live) return;
    const action = leaf.action as SubOrchestrationAction;
    const stored = event.type === "SubOrchestrationScheduled" ? event.instance : "";
    turn.orchestratorItems.push({
      StartOrchestration: {
        instance: childInstanceId(turn.instance, stored),
        orchestration: action.name,
        input: action.input,
        version: action.version,
        parent_instance: turn.instance,
        parent_id: event.event_id,
        execution_id: 1,
        parent_execution_id: turn.executionId,
      } as StartOrchestrationItem,
    });
  },
  // A cancelled parent cancels its outstanding children (cancellation cascades down the tree).
  onExecutionEnd(turn, ending) {
    if (ending !== "cancelled") return;
    for (const child of outstanding(turn.events(), "SubOrchestrationScheduled")) {
      cancelChild(turn, child.event_id, "parent canceled", "parent canceled");
    }
  },
};

export const subOrchCompleted: MessageConverter<"SubOrchCompleted"> = {
  message: "SubOrchCompleted",
  convert(m, { accept, log }) {
    if (accept(m.parent_execution_id, m.parent_id, "SubOrchestrationScheduled", "SubOrchCompleted"))
      log.append({ type: "SubOrchestrationCompleted", result: m.result }, m.parent_id);
  },
};

export const subOrchFailed: MessageConverter<"SubOrchFailed"> = {
  message: "SubOrchFailed",
  convert(m, { accept, abort, log }) {
    if (!accept(m.parent_execution_id, m.parent_id, "SubOrchestrationScheduled", "SubOrchFailed")) return;
    log.append({ type: "SubOrchestrationFailed", details: m.details }, m.parent_id);
    if (!isApplicationError(m.details)) abort(m.details);
  },
};

/**
 * The child side: a child's completion or failure, as the message its parent receives (none for
 * a top-level instance). Continue-as-new is not reported: the successor keeps the link.
 */
export function parentNotification(
  started: EventOf<"OrchestrationStarted">,
  ending: { output: string } | { details: ErrorDetails },
): WorkItem[] {
  if (!started.parent_instance || started.parent_id === null) return [];
  const link = {
    parent_instance: started.parent_instance,
    parent_execution_id: parentExecutionId(started) ?? 1,
    parent_id: started.parent_id,
  };
  return "output" in ending
    ? [{ SubOrchCompleted: { ...link, result: ending.output } }]
    : [{ SubOrchFailed: { ...link, details: ending.details } }];
}
