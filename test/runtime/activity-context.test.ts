import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness, waitForHistory } from "./harness.ts";

let h: Harness;

beforeAll(async () => {
  h = await createHarness("rt_actx");
  const runtime = h.runtime();
  runtime.registerActivity("Describe", async (ctx) => ({
    instanceId: ctx.instanceId,
    executionId: ctx.executionId,
    activityId: ctx.activityId,
    name: ctx.name,
    workerId: ctx.workerId,
    sessionId: ctx.sessionId,
    tag: ctx.tag(),
    cancelled: ctx.isCancelled(),
  }));
  runtime.registerActivity("Notify", async (ctx, target: string) => {
    await ctx.getClient().raiseEvent(target, "ping", `from ${ctx.instanceId}`);
    return "sent";
  });
  runtime.registerOrchestration("Introspect", function* (ctx) {
    return yield ctx.scheduleActivity("Describe");
  });
  runtime.registerOrchestration("Listener", function* (ctx) {
    return yield ctx.waitForEvent("ping");
  });
  runtime.registerOrchestration("Pinger", function* (ctx, target: string) {
    return yield ctx.scheduleActivity("Notify", target);
  });
  await runtime.start();
});

afterAll(async () => {
  await h?.close();
});

describe("activity context", () => {
  it("tells an activity who and where it is", async () => {
    await h.client.startOrchestration("intro-1", "Introspect");
    const info = await h.client.waitForOrchestrationTyped<Record<string, unknown>>("intro-1", 20_000);
    expect(info).toMatchObject({
      instanceId: "intro-1",
      executionId: 1,
      activityId: 2,
      name: "Describe",
      sessionId: null,
      tag: null,
      cancelled: false,
    });
    expect(info.workerId).toMatch(/^work-\d+-/);
  });

  it("gives an activity a client over the same store", async () => {
    await h.client.startOrchestration("listener-1", "Listener");
    await waitForHistory(h, "listener-1", "ExternalSubscribed");
    await h.client.startOrchestration("pinger-1", "Pinger", "listener-1");
    expect(await h.client.waitForOrchestrationTyped("listener-1", 20_000)).toBe("from pinger-1");
  });
});
