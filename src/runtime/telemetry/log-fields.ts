/**
 * The fields the runtime's log lines carry (docs/observability.md "Structured logs"), so a JSON
 * log or a structured logger can filter by instance without parsing messages.
 */
import type { ActivityExecuteItem, OrchestrationItem } from "../../provider/types.ts";
import { findStarted } from "../events.ts";
import type { LogFields } from "../logger.ts";
import { startMessage } from "../turn.ts";

/** The orchestration a fetched batch belongs to: history's start, else the batch's start message. */
export function orchestrationNameOf(item: OrchestrationItem): string {
  const started = findStarted(item.history);
  if (started) return started.name;
  const start = startMessage(item.messages);
  if (start && "StartOrchestration" in start) return start.StartOrchestration.orchestration;
  if (start && "ContinueAsNew" in start) return start.ContinueAsNew.orchestration;
  return item.orchestrationName;
}

/** Fields of a line about a turn of `item` (orchestration code's traceInfo & co. included). */
export function orchestrationLogFields(item: OrchestrationItem): LogFields {
  return {
    instanceId: item.instance,
    // After a continue-as-new the turn runs the next execution.
    executionId: item.history.some((e) => e.type === "OrchestrationContinuedAsNew")
      ? item.executionId + 1
      : item.executionId,
    orchestrationName: orchestrationNameOf(item),
  };
}

/** Fields of a line about an activity work item (before its ActivityContext exists). */
export function activityLogFields(a: ActivityExecuteItem): LogFields {
  return { instanceId: a.instance, executionId: a.execution_id, activityId: a.id, activityName: a.name };
}
