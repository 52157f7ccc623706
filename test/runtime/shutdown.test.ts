import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createHarness, eventually, type Harness, sleep } from "./harness.ts";

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
    let started!: () => void;
    const activityStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    runtime.registerActivity("Work", async () => {
      started();
      await sleep(300);
      return "finished";
    });
    runtime.registerOrchestration("OneStep", function* (ctx) {
      return yield ctx.scheduleActivity("Work");
    });
    await runtime.start();
    await h.client.startOrchestration("drain-1", "OneStep");
    await activityStarted; // shut down while the activity runs
    await runtime.shutdown(5000);

    const next = h.runtime();
    next.registerActivity("Work", async () => "second run");
    next.registerOrchestration("OneStep", function* (ctx) {
      return yield ctx.scheduleActivity("Work");
    });
    await next.start();
    expect(await h.client.waitForOrchestrationTyped("drain-1", 20_000)).toBe("finished");
  });

  it("is bounded: returns within its timeout (plus cleanup) with an activity that never ends, and hands it back", async () => {
    const runtime = h.runtime();
    let calls = 0;
    runtime.registerActivity("Forever", () => {
      calls++;
      return new Promise(() => {}); // never settles, never yields to a cancellation
    });
    runtime.registerOrchestration("Stuck", function* (ctx) {
      return yield ctx.scheduleActivity("Forever");
    });
    await runtime.start();
    await h.client.startOrchestration("bounded-1", "Stuck");
    await eventually(async () => calls > 0);
    const started = Date.now();
    const [first, second] = await Promise.all([runtime.shutdown(300), runtime.shutdown(60_000)]);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(first).toBe("forced");
    expect(second).toBe(first); // a later call shares the first one's deadline and outcome

    // Handed back without counting an attempt: another runtime takes it at once.
    const next = h.runtime();
    next.registerActivity("Forever", () => "done");
    next.registerOrchestration("Stuck", function* (ctx) {
      return yield ctx.scheduleActivity("Forever");
    });
    await next.start();
    expect(await h.client.waitForOrchestrationTyped("bounded-1", 10_000)).toBe("done");
  });

  it("reports a drained shutdown when nothing had to be cancelled", async () => {
    const runtime = h.runtime();
    await runtime.start();
    expect(await runtime.shutdown(1000)).toBe("drained");
    expect(await runtime.shutdown(1000)).toBe("drained");
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
