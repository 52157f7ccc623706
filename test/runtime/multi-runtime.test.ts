import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Runtime } from "../../src/runtime/runtime.ts";
import { createHarness, type Harness, sleep } from "./harness.ts";

let h: Harness;
let runtimes: Runtime[];
const executions: { instance: string; step: number; node: string; start: number; end: number }[] = [];

function register(rt: Runtime, node: string): void {
  rt.registerActivity("Step", async (ctx, step: number) => {
    const start = Date.now();
    await sleep(20);
    executions.push({ instance: ctx.instanceId, step, node, start, end: Date.now() });
    return step;
  });
  rt.registerOrchestration("Steps", function* (ctx) {
    let sum = 0;
    for (let step = 1; step <= 4; step++) sum += (yield ctx.scheduleActivity("Step", step)) as number;
    return sum;
  });
}

beforeAll(async () => {
  h = await createHarness("rt_multi");
  runtimes = [await h.separateRuntime(), await h.separateRuntime()];
  register(runtimes[0]!, "a");
  register(runtimes[1]!, "b");
  for (const rt of runtimes) await rt.start();
});

afterAll(async () => {
  await h?.close();
});

describe("several runtimes on one schema", () => {
  it("share the work without ever running an instance in two places at once", async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `multi-${i}`);
    for (const id of ids) await h.client.startOrchestration(id, "Steps");
    for (const id of ids) expect(await h.client.waitForOrchestrationTyped(id, 60_000)).toBe(10);

    for (const runtime of runtimes) {
      const m = runtime.metricsSnapshot();
      expect(m.orchDispatcherItemsFetched).toBeGreaterThan(0);
      expect(m.activitySuccess).toBeGreaterThan(0);
    }
    for (const id of ids) {
      const mine = executions.filter((e) => e.instance === id).sort((x, y) => x.step - y.step);
      expect(mine.map((e) => e.step)).toEqual([1, 2, 3, 4]); // each step ran exactly once
      for (let i = 1; i < mine.length; i++) expect(mine[i]!.start).toBeGreaterThanOrEqual(mine[i - 1]!.end);
      const history = await h.history(id);
      expect(history.map((e) => e.event_id)).toEqual(history.map((_, i) => i + 1));
      expect(history.filter((e) => e.type === "ActivityCompleted")).toHaveLength(4);
    }
  });
});
