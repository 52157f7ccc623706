import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createHarness, type Harness, sleep, waitForHistory } from "./harness.ts";

let h: Harness;

beforeEach(async () => {
  h = await createHarness("rt_shutdown");
});

afterEach(async () => {
  await h?.close();
});

describe("shutdown", () => {
  it("returns promptly when nothing is running", async () => {
    const runtime = h.runtime({ dispatcherMinPollIntervalMs: 100 });
    await runtime.start();
    await sleep(50);
    const started = Date.now();
    await runtime.shutdown(5000);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("returns promptly while its fetches are long-polling the store", async () => {
    const runtime = h.runtime({ dispatcherLongPollTimeoutMs: 30_000 });
    await runtime.start();
    await sleep(300); // every slot is now waiting inside the provider
    const started = Date.now();
    await runtime.shutdown(5000);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("lets an in-flight activity finish and records its result", async () => {
    const runtime = h.runtime();
    runtime.registerActivity("Work", async () => {
      await sleep(300);
      return "finished";
    });
    runtime.registerOrchestration("OneStep", function* (ctx) {
      return yield ctx.scheduleActivity("Work");
    });
    await runtime.start();
    await h.client.startOrchestration("drain-1", "OneStep");
    await waitForHistory(h, "drain-1", "ActivityScheduled");
    await sleep(100); // the worker has picked it up
    await runtime.shutdown(5000);

    const next = h.runtime();
    next.registerActivity("Work", async () => "second run");
    next.registerOrchestration("OneStep", function* (ctx) {
      return yield ctx.scheduleActivity("Work");
    });
    await next.start();
    expect(await h.client.waitForOrchestrationTyped("drain-1", 20_000)).toBe("finished");
  });

  it("wakes an idle runtime at once when a client in the same process starts work", async () => {
    const runtime = h.runtime({ dispatcherMinPollIntervalMs: 2000, dispatcherLongPollTimeoutMs: 0 });
    runtime.registerOrchestration("Instant", function* (ctx) {
      yield ctx.scheduleTimer(0);
      return "ok";
    });
    await runtime.start();
    await sleep(300); // every slot is now in its idle sleep
    const started = Date.now();
    await h.client.startOrchestration("instant-1", "Instant");
    expect(await h.client.waitForOrchestrationTyped("instant-1", 20_000)).toBe("ok");
    expect(Date.now() - started).toBeLessThan(1500);
  });
});
