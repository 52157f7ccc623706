/**
 * A counter that runs one activity per execution and continues as new until it has run
 * `--tasks` generations: execution-id advancement and per-execution history under concurrency.
 */
import type { OrchestrationContext } from "../../runtime/index.ts";
import { countActivityExecution } from "../activity-executions.ts";
import type { Scenario } from "./scenario.ts";
import { sleep } from "./scenario.ts";

interface CounterInput {
  generation: number;
  generations: number;
}

export const continueAsNewScenario: Scenario = {
  name: "continue-as-new",
  orchestration: "CounterOrchestration",
  register(runtime, config) {
    runtime.registerActivity("CountStep", async (ctx, input: CounterInput) => {
      countActivityExecution(ctx);
      if (config.activityDelayMs > 0) await sleep(config.activityDelayMs);
      return input.generation;
    });
    runtime.registerOrchestration(
      "CounterOrchestration",
      function* (ctx: OrchestrationContext, input: CounterInput) {
        yield ctx.scheduleActivity("CountStep", input);
        if (input.generation + 1 < input.generations) {
          return yield ctx.continueAsNew({
            generation: input.generation + 1,
            generations: input.generations,
          });
        }
        return { completedAt: input.generation };
      },
    );
  },
  input: (config) => ({ generation: 0, generations: config.tasks }),
  activitiesPerInstance: (config) => config.tasks,
};
