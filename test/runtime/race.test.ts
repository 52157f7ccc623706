import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness, sleep, waitForHistory } from "./harness.ts";

let h: Harness;
const cancelledSeen = new Set<string>();

beforeAll(async () => {
  h = await createHarness("rt_race");
  // A short worker lock makes a lost race's activity notice its cancellation quickly.
  const runtime = h.runtime({ workerLockTimeoutMs: 1000, activityCancellationGracePeriodMs: 2000 });
  runtime.registerActivity("Fast", async (_ctx, x: string) => `fast-${x}`);
  runtime.registerActivity("Slow", async (ctx, key: string) => {
    const deadline = Date.now() + 8000;
    while (Date.now() < deadline && !ctx.isCancelled()) await sleep(50);
    if (ctx.isCancelled()) cancelledSeen.add(key);
    return "slow-done";
  });
  runtime.registerActivity("Boom", async () => {
    throw new Error("winner failed");
  });
  runtime.registerOrchestration(
    "ActivityVsTimer",
    function* (ctx, input: { activity: string; timerMs: number }) {
      return yield ctx.race(ctx.scheduleActivity(input.activity, "go"), ctx.scheduleTimer(input.timerMs));
    },
  );
  runtime.registerOrchestration("EventVsTimer", function* (ctx, timerMs: number) {
    return yield ctx.race(ctx.waitForEvent("approve"), ctx.scheduleTimer(timerMs));
  });
  runtime.registerOrchestration("ManyWay", function* (ctx) {
    return yield ctx.race([
      ctx.scheduleTimer(3000),
      ctx.scheduleTimer(2000),
      ctx.scheduleTimer(10),
      ctx.waitForEvent("x"),
    ]);
  });
  runtime.registerOrchestration("FailedWinner", function* (ctx) {
    try {
      yield ctx.race(ctx.scheduleActivity("Boom"), ctx.scheduleTimer(10_000));
      return "no error";
    } catch (error) {
      return `${(error as Error).message} at index ${(error as { index?: number }).index}`;
    }
  });
  runtime.registerOrchestration("LoserEventStaysAvailable", function* (ctx) {
    yield ctx.race(ctx.waitForEvent("late"), ctx.scheduleTimer(10));
    return yield ctx.waitForEvent("late");
  });
  await runtime.start();
});

afterAll(async () => {
  await h?.close();
});

describe("race", () => {
  it("lets an activity win over a long timer", async () => {
    await h.client.startOrchestration("avt-1", "ActivityVsTimer", { activity: "Fast", timerMs: 30_000 });
    expect(await h.client.waitForOrchestrationTyped("avt-1", 20_000)).toEqual({ index: 0, value: "fast-go" });
  });

  it("lets a timer win over a slow activity, which then sees its cancellation", async () => {
    await h.client.startOrchestration("avt-2", "ActivityVsTimer", { activity: "Slow", timerMs: 100 });
    expect(await h.client.waitForOrchestrationTyped("avt-2", 20_000)).toEqual({ index: 1, value: null });
    const history = await h.history("avt-2");
    expect(history.find((e) => e.type === "ActivityCancelRequested")).toMatchObject({
      reason: "dropped_future",
    });
    const deadline = Date.now() + 10_000;
    while (!cancelledSeen.has("go") && Date.now() < deadline) await sleep(50);
    expect(cancelledSeen.has("go")).toBe(true);
  });

  it("lets an external event win over a timer", async () => {
    await h.client.startOrchestration("evt-1", "EventVsTimer", 30_000);
    await waitForHistory(h, "evt-1", "ExternalSubscribed");
    await h.client.raiseEvent("evt-1", "approve", { by: "ann" });
    expect(await h.client.waitForOrchestrationTyped("evt-1", 20_000)).toEqual({
      index: 0,
      value: { by: "ann" },
    });
  });

  it("lets a timer win over an event that never comes", async () => {
    await h.client.startOrchestration("evt-2", "EventVsTimer", 50);
    expect(await h.client.waitForOrchestrationTyped("evt-2", 20_000)).toEqual({ index: 1, value: null });
  });

  it("races any number of tasks and picks the first to finish", async () => {
    await h.client.startOrchestration("many-1", "ManyWay");
    expect(await h.client.waitForOrchestrationTyped("many-1", 20_000)).toEqual({ index: 2, value: null });
  });

  it("throws the winner's error, marked with its index, when the winner failed", async () => {
    await h.client.startOrchestration("fw-1", "FailedWinner");
    expect(await h.client.waitForOrchestrationTyped("fw-1", 20_000)).toBe("winner failed at index 0");
  });

  it("gives a later wait the event a cancelled wait never received", async () => {
    await h.client.startOrchestration("late-1", "LoserEventStaysAvailable");
    await waitForHistory(h, "late-1", "ExternalSubscribed", 2);
    await h.client.raiseEvent("late-1", "late", "second wait got it");
    expect(await h.client.waitForOrchestrationTyped("late-1", 20_000)).toBe("second wait got it");
  });
});
