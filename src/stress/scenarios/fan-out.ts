/**
 * The standard duroxide workload: schedule N activities at once, join them (fan-out / fan-in).
 * Every completion re-fetches the same instance, so it measures queue throughput and instance
 * lock contention as much as raw speed.
 */
import type { OrchestrationContext } from "../../runtime/index.ts";
import { countActivityExecution } from "../activity-executions.ts";
import type { Scenario } from "./scenario.ts";
import { sleep } from "./scenario.ts";

export const fanOutScenario: Scenario = {
  name: "fan-out",
  orchestration: "FanoutOrchestration",
  register(runtime, config) {
    runtime.registerActivity("ProcessTask", async (ctx, input: unknown) => {
      countActivityExecution(ctx);
      if (config.activityDelayMs > 0) await sleep(config.activityDelayMs);
      return input;
    });
    runtime.registerOrchestration(
      "FanoutOrchestration",
      function* (ctx: OrchestrationContext, input: { taskCount: number }) {
        const tasks = [];
        for (let i = 0; i < input.taskCount; i++)
          tasks.push(ctx.scheduleActivity("ProcessTask", { task: i }));
        const results: unknown[] = yield ctx.all(tasks);
        return { completed: results.length };
      },
    );
  },
  input: (config) => ({ taskCount: config.tasks }),
  activitiesPerInstance: (config) => config.tasks,
};
