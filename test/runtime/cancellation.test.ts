import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness, sleep, types, waitForHistory } from "./harness.ts";

let h: Harness;
const cancelled = new Set<string>();

beforeAll(async () => {
  h = await createHarness("rt_cancel");
  const runtime = h.runtime({ workerLockTimeoutMs: 1000 });
  runtime.registerActivity("Hang", async (ctx) => {
    while (!ctx.signal.aborted) await sleep(25);
    cancelled.add(ctx.instanceId);
    return null;
  });
  runtime.registerOrchestration("Child", function* (ctx) {
    yield ctx.scheduleActivity("Hang");
  });
  runtime.registerOrchestration("Parent", function* (ctx) {
    return yield ctx.all([ctx.scheduleSubOrchestration("Child"), ctx.scheduleSubOrchestration("Child")]);
  });
  runtime.registerOrchestration("Quick", function* (ctx) {
    yield ctx.scheduleTimer(0);
    return "done";
  });
  await runtime.start();
});

afterAll(async () => {
  await h?.close();
});

describe("cancellation", () => {
  it("cancels a running instance, its children and their activities", async () => {
    await h.client.startOrchestration("parent-1", "Parent");
    const history = await waitForHistory(h, "parent-1", "SubOrchestrationScheduled", 2);
    const children = history
      .filter((e) => e.type === "SubOrchestrationScheduled")
      .map((e) => `parent-1::sub::${e.event_id}`);
    for (const child of children) await waitForHistory(h, child, "ActivityScheduled");

    await h.client.cancelInstance("parent-1", "user asked");
    const status = await h.client.waitForOrchestration("parent-1", 20_000);
    expect(status).toMatchObject({
      status: "Failed",
      error: "canceled: user asked",
      details: { Application: { kind: { Cancelled: { reason: "user asked" } } } },
    });
    for (const child of children) {
      expect(await h.client.waitForOrchestration(child, 20_000)).toMatchObject({
        status: "Failed",
        error: "canceled: parent canceled",
      });
      expect(types(await h.history(child))).toContain("ActivityCancelRequested");
    }
    const deadline = Date.now() + 10_000;
    while (children.some((c) => !cancelled.has(c)) && Date.now() < deadline) await sleep(50);
    expect(children.every((c) => cancelled.has(c))).toBe(true);
  });

  it("leaves a completed instance alone when it is cancelled", async () => {
    await h.client.startOrchestration("quick-1", "Quick");
    await h.client.waitForOrchestration("quick-1", 20_000);
    await h.client.cancelInstance("quick-1", "too late");
    await sleep(200);
    expect(await h.client.getStatus("quick-1")).toMatchObject({ status: "Completed", output: '"done"' });
  });
});
