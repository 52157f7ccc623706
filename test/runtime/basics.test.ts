import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PayloadError } from "../../src/runtime/json.ts";
import type { Runtime } from "../../src/runtime/runtime.ts";
import { ENGINE_VERSION } from "../../src/runtime/semver.ts";
import { createHarness, type Harness, types } from "./harness.ts";

let h: Harness;
let runtime: Runtime;

beforeAll(async () => {
  h = await createHarness("rt_basics");
  runtime = h.runtime();
  runtime.registerActivity("Greet", async (_ctx, name: string) => `Hello, ${name}!`);
  runtime.registerActivity(
    "Append",
    async (_ctx, input: { acc: string; add: string }) => input.acc + input.add,
  );
  runtime.registerActivity("Explode", async (_ctx, message: string) => {
    throw new Error(message);
  });
  runtime.registerOrchestration("HelloWorld", function* (ctx, name: string) {
    const first: string = yield ctx.scheduleActivity("Greet", name);
    return first;
  });
  runtime.registerOrchestration("Sequence", function* (ctx) {
    let acc = "start";
    for (const add of ["a", "b", "c"]) acc = yield* ctx.scheduleActivity<string>("Append", { acc, add });
    return acc;
  });
  runtime.registerOrchestration("CatchActivityError", function* (ctx) {
    try {
      yield ctx.scheduleActivity("Explode", "disk on fire");
      return "not reached";
    } catch (error) {
      return `recovered from: ${(error as Error).message}`;
    }
  });
  runtime.registerOrchestration("Unhandled", function* (ctx) {
    yield ctx.scheduleActivity("Explode", "nobody catches this");
  });
  // biome-ignore lint/correctness/useYield: failing before the first yield is the point
  runtime.registerOrchestration("ThrowsDirectly", function* () {
    throw new Error("bad input");
  });
  runtime.registerOrchestration("BadPayload", function* (ctx) {
    try {
      yield ctx.scheduleActivity("Greet", { when: 10n });
    } catch (error) {
      return `${(error as Error).name}: ${(error as Error).message}`;
    }
  });
  runtime.registerOrchestration("SystemValues", function* (ctx) {
    const now: number = yield ctx.utcNow();
    const guid: string = yield ctx.newGuid();
    return { now, guid };
  });
  runtime.registerOrchestration("Status", function* (ctx) {
    ctx.setCustomStatus("processing");
    yield ctx.waitForEvent("finish");
    ctx.setCustomStatus("finished");
    return "ok";
  });
  runtime.registerOrchestration("Timer", function* (ctx) {
    yield ctx.scheduleTimer(100);
    yield ctx.scheduleTimer(0);
    return "fired";
  });
  await runtime.start();
});

afterAll(async () => {
  await h?.close();
});

describe("runtime basics", () => {
  it("runs a hello-world orchestration and returns the activity's result", async () => {
    await h.client.startOrchestration("hello-1", "HelloWorld", "World");
    const status = await h.client.waitForOrchestration("hello-1", 20_000);
    expect(status).toMatchObject({ status: "Completed", output: "Hello, World!" });
  });

  it("runs activities in sequence, each seeing the previous result", async () => {
    await h.client.startOrchestration("seq-1", "Sequence");
    expect(await h.client.waitForOrchestrationTyped("seq-1", 20_000)).toBe("startabc");
  });

  it("writes contiguous event ids from 1 stamped with the engine version", async () => {
    await h.client.startOrchestration("ids-1", "Sequence");
    await h.client.waitForOrchestration("ids-1", 20_000);
    const history = await h.history("ids-1");
    expect(history.map((e) => e.event_id)).toEqual(history.map((_, i) => i + 1));
    expect(new Set(history.map((e) => e.duroxide_version))).toEqual(new Set([ENGINE_VERSION]));
    expect(types(history)[0]).toBe("OrchestrationStarted");
    expect(types(history).at(-1)).toBe("OrchestrationCompleted");
  });

  it("delivers an activity failure to the orchestration as a catchable error with its message", async () => {
    await h.client.startOrchestration("catch-1", "CatchActivityError");
    expect(await h.client.waitForOrchestrationTyped("catch-1", 20_000)).toBe("recovered from: disk on fire");
  });

  it("fails the instance with the activity's message when the orchestration does not catch it", async () => {
    await h.client.startOrchestration("unhandled-1", "Unhandled");
    const status = await h.client.waitForOrchestration("unhandled-1", 20_000);
    expect(status.status).toBe("Failed");
    if (status.status !== "Failed") return;
    expect(status.error).toContain("nobody catches this");
    expect(status.details).toMatchObject({ Application: { kind: "OrchestrationFailed" } });
  });

  it("fails the instance with application details when the orchestration throws", async () => {
    await h.client.startOrchestration("throws-1", "ThrowsDirectly");
    const status = await h.client.waitForOrchestration("throws-1", 20_000);
    expect(status).toMatchObject({
      status: "Failed",
      error: "bad input",
      details: { Application: { kind: "OrchestrationFailed", message: "bad input", retryable: false } },
    });
  });

  it("refuses a payload that is not JSON-serialisable at the call site", async () => {
    await expect(h.client.startOrchestration("bad-client", "HelloWorld", { f: () => 1 })).rejects.toThrow(
      PayloadError,
    );
    await h.client.startOrchestration("bad-1", "BadPayload");
    const output = await h.client.waitForOrchestrationTyped<string>("bad-1", 20_000);
    expect(output).toMatch(
      /^PayloadError: input of activity 'Greet' is not JSON-serialisable: \$\.when is a BigInt/,
    );
  });

  it("records utcNow and newGuid so they are stable values", async () => {
    const before = Date.now();
    await h.client.startOrchestration("sys-1", "SystemValues");
    const output = await h.client.waitForOrchestrationTyped<{ now: number; guid: string }>("sys-1", 20_000);
    expect(output.now).toBeGreaterThanOrEqual(before);
    expect(output.guid).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("shows the custom status to the client while the orchestration waits", async () => {
    await h.client.startOrchestration("status-1", "Status");
    const running = await h.client.waitForStatusChange("status-1", 0, 50, 20_000);
    expect(running).toMatchObject({ status: "Running", customStatus: "processing" });
    await h.client.raiseEvent("status-1", "finish");
    const done = await h.client.waitForOrchestration("status-1", 20_000);
    expect(done).toMatchObject({ status: "Completed", customStatus: "finished" });
  });

  it("fires durable timers, including a zero-length one", async () => {
    const started = Date.now();
    await h.client.startOrchestration("timer-1", "Timer");
    expect(await h.client.waitForOrchestrationTyped("timer-1", 20_000)).toBe("fired");
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
  });

  it("reports NotFound for an instance that was never started", async () => {
    expect(await h.client.getStatus("never-started")).toEqual({ status: "NotFound" });
  });

  it("keeps counters of what the runtime did", () => {
    const m = runtime.metricsSnapshot();
    expect(m.orchStarts).toBeGreaterThan(0);
    expect(m.orchCompletions).toBeGreaterThan(0);
    expect(m.activitySuccess).toBeGreaterThan(0);
  });
});
