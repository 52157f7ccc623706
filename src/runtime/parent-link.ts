/**
 * Addressing a finished child's notification to the right execution of its parent.
 *
 * SubOrchCompleted/SubOrchFailed carry the parent's execution id, and the parent drops answers
 * addressed to another execution (they are stale after continue-as-new). Since duroxide 0.1.30 the
 * child's start records that id (parent_execution_id), and nothing here runs. This is the fallback
 * for children started without it (by older writers): the child reads the parent's current
 * execution and checks that it is the one that scheduled this child: its SubOrchestrationScheduled
 * at parent_id names this child. If not, the parent has moved on and the answer is addressed to no
 * execution (execution 0), so it is dropped as stale instead of being delivered to whatever the new
 * execution scheduled under the same event id.
 */
import type { Provider } from "../provider/types.ts";
import { callWithRetries } from "./call-with-retries.ts";
import { childInstanceId } from "./events.ts";
import type { AckPlan } from "./turn.ts";

const READ_RETRIES = 8;

export async function resolveParentExecution(provider: Provider, plan: AckPlan): Promise<void> {
  const link = plan.parentToResolve;
  if (!link) return;
  // A lost connection is worth waiting out: guessing the execution could misroute the answer.
  const read = await callWithRetries(() => provider.read(link.parentInstance), READ_RETRIES);
  if (read.kind !== "ok") return; // keep the default (execution 1)
  const scheduled = read.value.find((e) => e.event_id === link.parentId);
  const executionId =
    scheduled?.type === "SubOrchestrationScheduled" &&
    childInstanceId(link.parentInstance, scheduled.instance) === link.childInstance
      ? scheduled.execution_id
      : 0;
  for (const item of plan.orchestratorItems) {
    if ("SubOrchCompleted" in item && item.SubOrchCompleted.parent_instance === link.parentInstance) {
      item.SubOrchCompleted.parent_execution_id = executionId;
    } else if ("SubOrchFailed" in item && item.SubOrchFailed.parent_instance === link.parentInstance) {
      item.SubOrchFailed.parent_execution_id = executionId;
    }
  }
}
