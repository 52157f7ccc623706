import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness, sleep, waitForHistory } from "./harness.ts";

let h: Harness;

beforeAll(async () => {
  h = await createHarness("rt_events");
  const runtime = h.runtime();
  runtime.registerActivity("Noop", async () => null);
  runtime.registerOrchestration("WaitOne", function* (ctx) {
    return yield ctx.waitForEvent("approval");
  });
  runtime.registerOrchestration("WaitTwoSameName", function* (ctx) {
    const first = yield ctx.waitForEvent("tick");
    const second = yield ctx.waitForEvent("tick");
    return [first, second];
  });
  runtime.registerOrchestration("DrainQueue", function* (ctx, count: number) {
    const got: unknown[] = [];
    for (let i = 0; i < count; i++) got.push(yield ctx.dequeueEvent("inbox"));
    return got;
  });
  runtime.registerOrchestration("TwoQueues", function* (ctx) {
    const b = yield ctx.dequeueEvent("beta");
    const a = yield ctx.dequeueEvent("alpha");
    return { a, b };
  });
  runtime.registerOrchestration("EarlyEventIgnored", function* (ctx) {
    yield ctx.scheduleActivity("Noop");
    return yield ctx.race(ctx.waitForEvent("early"), ctx.scheduleTimer(300));
  });
  await runtime.start();
});

afterAll(async () => {
  await h?.close();
});

describe("external events and queues", () => {
  it("delivers a raised event to a waiting orchestration with its payload intact", async () => {
    await h.client.startOrchestration("wait-1", "WaitOne");
    await waitForHistory(h, "wait-1", "ExternalSubscribed");
    await h.client.raiseEvent("wait-1", "approval", { approved: true, by: ["ann", "bob"] });
    expect(await h.client.waitForOrchestrationTyped("wait-1", 20_000)).toEqual({
      approved: true,
      by: ["ann", "bob"],
    });
  });

  it("gives the n-th wait for a name the n-th event raised after it", async () => {
    await h.client.startOrchestration("tick-1", "WaitTwoSameName");
    await waitForHistory(h, "tick-1", "ExternalSubscribed");
    await h.client.raiseEvent("tick-1", "tick", 1);
    await waitForHistory(h, "tick-1", "ExternalSubscribed", 2);
    await h.client.raiseEvent("tick-1", "tick", 2);
    expect(await h.client.waitForOrchestrationTyped("tick-1", 20_000)).toEqual([1, 2]);
  });

  it("records but does not deliver an event raised before anyone waits for it", async () => {
    await h.client.startOrchestration("early-1", "EarlyEventIgnored");
    await h.client.raiseEvent("early-1", "early", "too soon");
    expect(await h.client.waitForOrchestrationTyped("early-1", 20_000)).toEqual({ index: 1, value: null });
    const history = await h.history("early-1");
    expect(history.some((e) => e.type === "ExternalEvent")).toBe(true);
  });

  it("queues messages FIFO whether they arrive before or after the dequeue", async () => {
    await h.client.startOrchestration("queue-1", "DrainQueue", 3);
    await h.client.enqueueEvent("queue-1", "inbox", "first");
    await h.client.enqueueEvent("queue-1", "inbox", "second");
    await sleep(200);
    await h.client.enqueueEvent("queue-1", "inbox", { third: 3 });
    expect(await h.client.waitForOrchestrationTyped("queue-1", 20_000)).toEqual([
      "first",
      "second",
      { third: 3 },
    ]);
  });

  it("keeps queues of different names independent", async () => {
    await h.client.startOrchestration("queues-2", "TwoQueues");
    await h.client.enqueueEvent("queues-2", "alpha", "a1");
    await h.client.enqueueEvent("queues-2", "beta", "b1");
    expect(await h.client.waitForOrchestrationTyped("queues-2", 20_000)).toEqual({ a: "a1", b: "b1" });
  });
});
