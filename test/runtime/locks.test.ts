import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness, sleep } from "./harness.ts";

let h: Harness;
let runs = 0;
const traces: string[] = [];

beforeAll(async () => {
  h = await createHarness("rt_locks");
  const runtime = h.runtime({
    workerLockTimeoutMs: 600,
    logger: {
      debug: () => {},
      info: (m) => traces.push(m),
      warn: () => {},
      error: () => {},
    },
  });
  runtime.registerActivity("Long", async (ctx) => {
    runs++;
    await sleep(2000);
    return ctx.isCancelled() ? "cancelled" : "finished";
  });
  runtime.registerActivity("Quick", async () => "q");
  runtime.registerOrchestration("LongRunning", function* (ctx) {
    return yield ctx.scheduleActivity("Long");
  });
  runtime.registerOrchestration("Traced", function* (ctx) {
    ctx.traceInfo("before the activity");
    yield ctx.scheduleActivity("Quick");
    ctx.traceInfo("after the activity");
    yield ctx.scheduleTimer(10);
    return "ok";
  });
  await runtime.start();
});

afterAll(async () => {
  await h?.close();
});

describe("locks and replay-aware tracing", () => {
  it("keeps renewing the lock of an activity that outlives its lock timeout", async () => {
    await h.client.startOrchestration("long-1", "LongRunning");
    expect(await h.client.waitForOrchestrationTyped("long-1", 20_000)).toBe("finished");
    expect(runs).toBe(1);
  });

  it("prints orchestration traces once, not again when turns are replayed", async () => {
    await h.client.startOrchestration("traced-1", "Traced");
    expect(await h.client.waitForOrchestrationTyped("traced-1", 20_000)).toBe("ok");
    expect(traces.filter((t) => t.includes("before the activity"))).toHaveLength(1);
    expect(traces.filter((t) => t.includes("after the activity"))).toHaveLength(1);
  });
});
