/**
 * Big rows: sequential activities with 10–25 KiB inputs whose outputs add 10/50/100 KiB, then
 * parallel sub-orchestrations with 50 KiB inputs, then small activities, returning 100 KiB. The
 * parent history grows to a few MiB and is reloaded on every turn: serialisation and history
 * loading cost.
 */
import type { OrchestrationContext } from "../../runtime/index.ts";
import { countActivityExecution } from "../activity-executions.ts";
import type { Scenario } from "./scenario.ts";
import { sleep } from "./scenario.ts";

const KIB = 1024;
const blob = (bytes: number) => "x".repeat(bytes);

interface EchoInput {
  payload: string;
  extraBytes: number;
}

const SUB_ORCHESTRATIONS = 5;
const SMALL = 6;
const MEDIUM = 6;
const LARGE = 8;
const TAIL = 10;

export const largePayloadScenario: Scenario = {
  name: "large-payload",
  orchestration: "LargePayloadOrchestration",
  register(runtime, config) {
    runtime.registerActivity("EchoPayload", async (ctx, input: EchoInput) => {
      countActivityExecution(ctx);
      if (config.activityDelayMs > 0) await sleep(config.activityDelayMs);
      return { echo: input.payload, extra: blob(input.extraBytes) };
    });
    runtime.registerOrchestration(
      "LargePayloadChild",
      function* (ctx: OrchestrationContext, input: { payload: string }) {
        yield ctx.scheduleActivity("EchoPayload", { payload: blob(10 * KIB), extraBytes: 10 * KIB });
        yield ctx.scheduleActivity("EchoPayload", { payload: blob(25 * KIB), extraBytes: 50 * KIB });
        return { size: input.payload.length, result: blob(50 * KIB) };
      },
    );
    runtime.registerOrchestration("LargePayloadOrchestration", function* (ctx: OrchestrationContext) {
      for (let i = 0; i < SMALL; i++)
        yield ctx.scheduleActivity("EchoPayload", { payload: blob(10 * KIB), extraBytes: 10 * KIB });
      for (let i = 0; i < MEDIUM; i++)
        yield ctx.scheduleActivity("EchoPayload", { payload: blob(25 * KIB), extraBytes: 50 * KIB });
      for (let i = 0; i < LARGE; i++)
        yield ctx.scheduleActivity("EchoPayload", { payload: blob(25 * KIB), extraBytes: 100 * KIB });
      const children = [];
      for (let i = 0; i < SUB_ORCHESTRATIONS; i++) {
        children.push(ctx.scheduleSubOrchestration("LargePayloadChild", { payload: blob(50 * KIB) }));
      }
      yield ctx.all(children);
      for (let i = 0; i < TAIL; i++)
        yield ctx.scheduleActivity("EchoPayload", { payload: `tail-${i}`, extraBytes: 16 });
      return { result: blob(100 * KIB) };
    });
  },
  input: () => ({}),
  activitiesPerInstance: () => SMALL + MEDIUM + LARGE + TAIL + SUB_ORCHESTRATIONS * 2,
};
