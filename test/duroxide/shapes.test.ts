/**
 * pg-durable/duroxide returns what duroxide-node returns: status objects, readExecutionHistory
 * events, instance and execution info, ActivityContext fields (orchestrationName/Version too, also
 * in a worker that did not run the orchestration), and the *Typed calls' second JSON decode.
 */

import { ActivityContext, Client, PostgresProvider, Runtime } from "pg-durable/duroxide";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDuroxideHarness, type DuroxideHarness, eventually, TEST_OPTIONS } from "./harness.ts";

let h: DuroxideHarness;
let runtime: Runtime;
const activityContexts: ActivityContext[] = [];

beforeAll(async () => {
  h = await createDuroxideHarness("dxshape");
  runtime = h.runtime({ workerTagFilter: { defaultAnd: ["t1"] } });
  runtime.registerActivity("Record", async (ctx, input) => {
    activityContexts.push(ctx);
    return input;
  });
  runtime.registerActivity("Fail", async () => {
    throw new Error("it broke");
  });
  runtime.registerActivity("JsonText", async (_ctx, input) => JSON.stringify(input));
  runtime.registerOrchestrationVersioned("Shaped", "2.1.0", function* (ctx, input) {
    ctx.setValue("k", "v");
    const recorded = yield ctx.scheduleActivity("Record", input).withTag("t1");
    yield ctx.scheduleTimer(5);
    return recorded;
  });
  runtime.registerOrchestration("Waits", function* (ctx) {
    ctx.setCustomStatus("s1");
    const queued = yield ctx.dequeueEvent("q");
    return queued;
  });
  runtime.registerOrchestration("Fails", function* (ctx) {
    yield ctx.scheduleActivity("Fail", null);
  });
  runtime.registerOrchestration("Typed", function* (ctx, input) {
    const plain = yield ctx.scheduleActivity("JsonText", input);
    const typed = yield ctx.scheduleActivityTyped("JsonText", input);
    const all = yield ctx.allTyped([
      ctx.scheduleActivity("JsonText", input),
      ctx.scheduleActivity("Fail", null),
    ]);
    const race = yield ctx.raceTyped(ctx.scheduleActivity("JsonText", input), ctx.scheduleTimer(60_000));
    const retried = yield ctx.scheduleActivityWithRetryTyped("JsonText", input, { maxAttempts: 1 });
    const child = yield ctx.scheduleSubOrchestrationTyped("ChildJson", input);
    return { plain, typed, all, race, retried, child };
  });
  // biome-ignore lint/correctness/useYield: an orchestration is a generator even when it schedules nothing
  runtime.registerOrchestration("ChildJson", function* (_ctx, input) {
    return JSON.stringify(input);
  });
  await runtime.start();
});
afterAll(async () => {
  await h.close();
});

describe("status objects", () => {
  it("NotFound is { status, customStatusVersion: 0 }", async () => {
    expect(await h.client.getStatus("no-such-instance")).toEqual({
      status: "NotFound",
      customStatusVersion: 0,
    });
  });

  it("Running carries customStatus and its version; getStatus keeps output as raw JSON text", async () => {
    const id = h.id("waits");
    await h.client.startOrchestration(id, "Waits", null);
    const running = await eventually(async () => {
      const s = await h.client.getStatus(id);
      return s.customStatus ? s : null;
    });
    expect(running).toEqual({ status: "Running", customStatus: "s1", customStatusVersion: 1 });
    await h.client.enqueueEvent(id, "q", { a: 1 });
    await h.client.waitForOrchestration(id, 10_000);
    expect(await h.client.getStatus(id)).toEqual({
      status: "Completed",
      output: '{"a":1}',
      customStatus: "s1",
      customStatusVersion: 1,
    });
    const waited = await h.client.waitForOrchestration(id, 10_000);
    expect(waited.output).toEqual({ a: 1 });
  });

  it("Failed carries error (no output, no customStatus key when none was set)", async () => {
    const id = h.id("fails");
    await h.client.startOrchestration(id, "Fails", null);
    const failed = await h.client.waitForOrchestration(id, 10_000);
    expect(failed).toEqual({ status: "Failed", error: "it broke", customStatusVersion: 0 });
    await expect(h.client.waitForOrchestrationTyped(id, 10_000)).rejects.toThrow("it broke");
  });

  it("waitForValue times out with duroxide-node's message", async () => {
    const id = h.id("waits-kv");
    await h.client.startOrchestration(id, "Waits", null);
    await expect(h.client.waitForValue(id, "never", 100)).rejects.toThrow(
      `Timed out waiting for value 'never' on instance '${id}'`,
    );
    await h.client.cancelInstance(id);
  });
});

describe("history and info", () => {
  it("readExecutionHistory returns { eventId, kind, sourceEventId?, timestampMs, data? }", async () => {
    const id = h.id("shaped");
    await h.client.startOrchestration(id, "Shaped", { x: 1 });
    await h.client.waitForOrchestration(id, 10_000);
    const events = await h.client.readExecutionHistory(id, 1);
    const kinds = events.map((e) => e.kind);
    expect(kinds[0]).toBe("OrchestrationStarted");
    expect(kinds).toContain("ActivityScheduled");
    expect(kinds.at(-1)).toBe("OrchestrationCompleted");
    for (const e of events) {
      expect(
        Object.keys(e).every((k) => ["eventId", "kind", "sourceEventId", "timestampMs", "data"].includes(k)),
      ).toBe(true);
      expect(e.timestampMs).toBeGreaterThan(0);
    }
    const started = events[0]!;
    expect(started.sourceEventId).toBeUndefined();
    expect(JSON.parse(started.data!)).toEqual({ name: "Shaped", version: "2.1.0", input: { x: 1 } });
    const scheduled = events.find((e) => e.kind === "ActivityScheduled")!;
    expect(JSON.parse(scheduled.data!)).toEqual({ name: "Record", input: { x: 1 } });
    const completed = events.find((e) => e.kind === "ActivityCompleted")!;
    expect(completed.sourceEventId).toBe(scheduled.eventId);
    expect(JSON.parse(completed.data!)).toEqual({ x: 1 });
    const timer = events.find((e) => e.kind === "TimerCreated")!;
    expect(Object.keys(JSON.parse(timer.data!))).toEqual(["fireAtMs"]);
    expect(JSON.parse(events.at(-1)!.data!)).toEqual({ x: 1 });
  });

  it("persistent-queue events use duroxide-node's kind names", async () => {
    const id = h.id("queue-kinds");
    await h.client.startOrchestration(id, "Waits", null);
    await h.client.enqueueEvent(id, "q", "m");
    await h.client.waitForOrchestration(id, 10_000);
    const events = await h.client.readExecutionHistory(id, 1);
    const subscribed = events.find((e) => e.kind === "QueueSubscribed");
    const delivered = events.find((e) => e.kind === "QueueEventDelivered");
    expect(JSON.parse(subscribed!.data!)).toEqual({ name: "q" });
    expect(JSON.parse(delivered!.data!)).toEqual({ name: "q", data: "m" });
  });

  it("getInstanceInfo / getExecutionInfo decode output and leave out absent fields; getInstanceTree has size", async () => {
    const id = h.id("info");
    await h.client.startOrchestration(id, "Shaped", [1, 2]);
    await h.client.waitForOrchestration(id, 10_000);
    const info = await h.client.getInstanceInfo(id);
    expect(info).toMatchObject({
      instanceId: id,
      orchestrationName: "Shaped",
      orchestrationVersion: "2.1.0",
      currentExecutionId: 1,
      status: "Completed",
      output: [1, 2],
    });
    expect("parentInstanceId" in info).toBe(false);
    const execution = await h.client.getExecutionInfo(id, 1);
    expect(execution).toMatchObject({ executionId: 1, status: "Completed", output: [1, 2] });
    expect(execution.completedAt).toBeGreaterThanOrEqual(execution.startedAt);
    expect(await h.client.getInstanceTree(id)).toEqual({ rootId: id, allIds: [id], size: 1 });
  });
});

describe("ActivityContext", () => {
  it("has duroxide-node's fields, orchestrationName and orchestrationVersion included", async () => {
    const id = h.id("ctx");
    await h.client.startOrchestration(id, "Shaped", "in");
    await h.client.waitForOrchestration(id, 10_000);
    const ctx = activityContexts.find((c) => c.instanceId === id)!;
    expect(ctx).toBeInstanceOf(ActivityContext);
    expect(ctx).toMatchObject({
      instanceId: id,
      executionId: 1,
      orchestrationName: "Shaped",
      orchestrationVersion: "2.1.0",
      activityName: "Record",
      sessionId: null,
    });
    expect(typeof ctx.workerId).toBe("string");
    expect(ctx.tag()).toBe("t1");
    expect(ctx.isCancelled()).toBe(false);
    expect(ctx.getClient()).toBeInstanceOf(Client);
  });

  it("a worker in another process (its own provider) reads the orchestration from the store", async () => {
    // A schema of its own: the suite's main runtime has other orchestrations registered, and a
    // runtime that fetches a turn it cannot run backs it off (unregistered backoff).
    const remote = await createDuroxideHarness("dxremote");
    const provider = await PostgresProvider.connectWithSchema(remote.url, remote.schema);
    const seen: ActivityContext[] = [];
    // Orchestrations only on the harness runtime; this one only runs "Remote" activities.
    const worker = new Runtime(provider, {
      ...TEST_OPTIONS,
      orchestrationConcurrency: 0,
      workerTagFilter: { tags: ["remote"] },
    });
    worker.registerActivity("Remote", async (ctx) => {
      seen.push(ctx);
      return null;
    });
    const orchestrator = remote.runtime({ workerConcurrency: 0 });
    orchestrator.registerOrchestrationVersioned("Calls", "3.0.0", function* (ctx) {
      yield ctx.scheduleActivity("Remote", null).withTag("remote");
      return "ok";
    });
    await worker.start();
    await orchestrator.start();
    try {
      const id = remote.id("remote");
      await remote.client.startOrchestration(id, "Calls", null);
      expect((await remote.client.waitForOrchestration(id, 10_000)).output).toBe("ok");
      expect(seen[0]).toMatchObject({ orchestrationName: "Calls", orchestrationVersion: "3.0.0" });
    } finally {
      await worker.shutdown(100);
      await provider.close();
      await remote.close();
    }
  });
});

describe("typed calls decode a JSON text result once more, as duroxide-node's do", () => {
  it("scheduleActivityTyped, allTyped, raceTyped, retry and sub-orchestration typed variants", async () => {
    const id = h.id("typed");
    await h.client.startOrchestration(id, "Typed", { v: 1 });
    const { output } = await h.client.waitForOrchestration(id, 10_000);
    expect(output).toEqual({
      plain: '{"v":1}',
      typed: { v: 1 },
      all: [{ ok: { v: 1 } }, { err: "it broke" }],
      race: { index: 0, value: { v: 1 } },
      retried: { v: 1 },
      child: { v: 1 },
    });
  });
});
