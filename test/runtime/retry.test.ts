import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness, sleep, types } from "./harness.ts";

let h: Harness;
const calls = new Map<string, number>();

beforeAll(async () => {
  h = await createHarness("rt_retry");
  const runtime = h.runtime({ workerLockTimeoutMs: 1000 });
  runtime.registerActivity("FailTimes", async (_ctx, input: { key: string; failures: number }) => {
    const n = (calls.get(input.key) ?? 0) + 1;
    calls.set(input.key, n);
    if (n <= input.failures) throw new Error(`attempt ${n} failed`);
    return `ok after ${n}`;
  });
  runtime.registerActivity("Hang", async (ctx) => {
    while (!ctx.isCancelled()) await sleep(25);
    return "never used";
  });
  runtime.registerOrchestration(
    "Retry",
    function* (ctx, input: { key: string; failures: number; attempts: number }) {
      return yield ctx.scheduleActivityWithRetry("FailTimes", input, {
        maxAttempts: input.attempts,
        backoff: { kind: "fixed", delayMs: 20 },
      });
    },
  );
  runtime.registerOrchestration("AttemptTimeout", function* (ctx) {
    try {
      yield ctx.scheduleActivityWithRetry("Hang", null, { maxAttempts: 3, timeoutMs: 100 });
      return "no timeout";
    } catch (error) {
      return (error as Error).message;
    }
  });
  runtime.registerOrchestration("TotalTimeout", function* (ctx, key: string) {
    try {
      yield ctx.scheduleActivityWithRetry(
        "FailTimes",
        { key, failures: 100 },
        {
          maxAttempts: 100,
          backoff: { kind: "fixed", delayMs: 100 },
          totalTimeoutMs: 350,
        },
      );
      return "no timeout";
    } catch (error) {
      return (error as Error).message;
    }
  });
  await runtime.start();
});

afterAll(async () => {
  await h?.close();
});

describe("activity retry", () => {
  it("retries a failing activity until it succeeds", async () => {
    await h.client.startOrchestration("retry-ok", "Retry", { key: "a", failures: 2, attempts: 5 });
    expect(await h.client.waitForOrchestrationTyped("retry-ok", 20_000)).toBe("ok after 3");
    const history = await h.history("retry-ok");
    expect(types(history).filter((t) => t === "ActivityScheduled")).toHaveLength(3);
    expect(types(history).filter((t) => t === "TimerCreated")).toHaveLength(2);
  });

  it("fails with the last error once the attempts are exhausted", async () => {
    await h.client.startOrchestration("retry-out", "Retry", { key: "b", failures: 10, attempts: 3 });
    const status = await h.client.waitForOrchestration("retry-out", 20_000);
    expect(status).toMatchObject({ status: "Failed", error: "attempt 3 failed" });
    expect(calls.get("b")).toBe(3);
  });

  it("does not retry an attempt that timed out, and cancels it", async () => {
    await h.client.startOrchestration("retry-timeout", "AttemptTimeout");
    expect(await h.client.waitForOrchestrationTyped("retry-timeout", 20_000)).toBe(
      "timeout: activity 'Hang' timed out after 100ms",
    );
    const history = await h.history("retry-timeout");
    expect(types(history).filter((t) => t === "ActivityScheduled")).toHaveLength(1);
    expect(types(history)).toContain("ActivityCancelRequested");
  });

  it("stops retrying when the total budget runs out", async () => {
    await h.client.startOrchestration("retry-total", "TotalTimeout", "c");
    expect(await h.client.waitForOrchestrationTyped("retry-total", 20_000)).toBe(
      "timeout: activity 'FailTimes' retries exceeded 350ms in total",
    );
    expect(calls.get("c")).toBeLessThan(10);
  });
});
