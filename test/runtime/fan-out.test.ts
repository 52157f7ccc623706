import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness } from "./harness.ts";

let h: Harness;

beforeAll(async () => {
  h = await createHarness("rt_fanout");
  const runtime = h.runtime({ workerConcurrency: 4 });
  runtime.registerActivity("Square", async (_ctx, n: number) => n * n);
  runtime.registerActivity("Fail", async (_ctx, n: number) => {
    throw new Error(`item ${n} failed`);
  });
  runtime.registerOrchestration("FanOut", function* (ctx, count: number) {
    const tasks = Array.from({ length: count }, (_, i) => ctx.scheduleActivity<number>("Square", i));
    const results: { ok?: number; err?: string }[] = yield ctx.all(tasks);
    return results.reduce((sum, r) => sum + (r.ok ?? 0), 0);
  });
  runtime.registerOrchestration("MixedAll", function* (ctx) {
    return yield ctx.all([
      ctx.scheduleActivity("Square", 3),
      ctx.scheduleTimer(20),
      ctx.scheduleActivity("Fail", 7),
      ctx.all([ctx.scheduleActivity("Square", 4)]),
    ]);
  });
  runtime.registerOrchestration("EmptyAll", function* (ctx) {
    return yield ctx.all([]);
  });
  runtime.registerOrchestration("HelpersInAll", function* (ctx) {
    function* twoSteps(n: number) {
      const a: number = yield ctx.scheduleActivity("Square", n);
      const b: number = yield ctx.scheduleActivity("Square", a);
      return b;
    }
    return yield ctx.all([twoSteps(2), twoSteps(3)]);
  });
  await runtime.start();
});

afterAll(async () => {
  await h?.close();
});

describe("fan-out and fan-in", () => {
  it("fans out 100 activities and joins all their results", async () => {
    await h.client.startOrchestration("fan-100", "FanOut", 100);
    const expected = Array.from({ length: 100 }, (_, i) => i * i).reduce((a, b) => a + b, 0);
    expect(await h.client.waitForOrchestrationTyped("fan-100", 60_000)).toBe(expected);
    const history = await h.history("fan-100");
    expect(history.filter((e) => e.type === "ActivityScheduled")).toHaveLength(100);
    expect(history.filter((e) => e.type === "ActivityCompleted")).toHaveLength(100);
  });

  it("joins tasks of different kinds in argument order, reporting failures as err entries", async () => {
    await h.client.startOrchestration("mixed-1", "MixedAll");
    expect(await h.client.waitForOrchestrationTyped("mixed-1", 20_000)).toEqual([
      { ok: 9 },
      { ok: null },
      { err: "item 7 failed" },
      { ok: [{ ok: 16 }] },
    ]);
  });

  it("resolves an empty join at once", async () => {
    await h.client.startOrchestration("empty-1", "EmptyAll");
    expect(await h.client.waitForOrchestrationTyped("empty-1", 20_000)).toEqual([]);
  });

  it("runs helper generators side by side inside all()", async () => {
    await h.client.startOrchestration("helpers-1", "HelpersInAll");
    expect(await h.client.waitForOrchestrationTyped("helpers-1", 20_000)).toEqual([{ ok: 16 }, { ok: 81 }]);
  });
});
