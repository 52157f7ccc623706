/**
 * Fire-and-forget starts (`startOrchestration`, docs/replay-rules.md §13.6): `OrchestrationChained` records
 * the start (name, instance and input are compared during replay) and a `StartOrchestration` item
 * without a parent link creates the instance. The task resolves at once with null, so the code goes
 * on in the same turn; the start is sent even when that turn finishes the execution.
 */
import type { ScheduleCommand } from "./command.ts";
import { clip } from "./command.ts";

export interface DetachedAction {
  kind: "detached";
  name: string;
  instance: string;
  input: string;
  version: string | null;
}

export const detachedStart: ScheduleCommand<DetachedAction> = {
  family: "schedule",
  kind: "detached",
  recordedAs: "OrchestrationChained",
  matches: (action, event) =>
    event.type === "OrchestrationChained" &&
    action.name === event.name &&
    action.instance === event.instance &&
    action.input === event.input,
  describe: (action) =>
    `OrchestrationChained(${action.name}, instance=${action.instance}, input=${clip(action.input)})`,
  describeEvent: (event) =>
    event.type === "OrchestrationChained"
      ? `${event.type}(${event.name}, input=${clip(event.input)})#${event.event_id}`
      : "",
  schedule: (action) => ({
    type: "OrchestrationChained",
    name: action.name,
    instance: action.instance,
    input: action.input,
  }),
  bind: () => true,
  dispatch({ leaf }, turn) {
    const action = leaf.action as DetachedAction;
    turn.orchestratorItems.push({
      StartOrchestration: {
        instance: action.instance,
        orchestration: action.name,
        input: action.input,
        version: action.version,
        parent_instance: null,
        parent_id: null,
        execution_id: 1,
      },
    });
  },
};
