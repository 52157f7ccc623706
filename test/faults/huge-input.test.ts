/**
 * A payload slower to fetch than its lock (docs/limits.md; a fetch never hands out a dead lease,
 * docs/store-contract.md §4.2 step 3), scaled down: a 50 MB input against a 5 s lock becomes a
 * 2 MB input against a 200 ms lock (fetching 2 MB takes longer than 200 ms here, as 50 MB took
 * longer than 5 s).
 *
 * (a) over the payload limit: refused at the client, naming the limit and the size;
 * (b) allowed but slower to fetch than its lock: arrives with a live lease, is not taken over by
 *     other slots or runtimes, runs each step once and completes;
 * (c) meanwhile other instances keep completing;
 * and in the runtime, results, outputs and histories over their budgets fail with that error.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "../../src/runtime/client.ts";
import { LimitError } from "../../src/runtime/limits.ts";
import type { Runtime } from "../../src/runtime/runtime.ts";
import { createHarness, type Harness } from "../runtime/harness.ts";

const MiB = 1024 * 1024;
/** 2,000,000 characters of base64: incompressible, so Postgres cannot shrink the transfer. */
const bigInput = randomBytes(1_500_000).toString("base64");
const runtimeLimits = { maxPayloadBytes: 4 * MiB, maxHistoryBytes: 8 * MiB };

let h: Harness;
let runtimes: Runtime[];
/** Executions of the big instance's activity, counted inside its body. */
let bigActivityRuns = 0;

beforeAll(async () => {
  h = await createHarness("faults_huge");
  runtimes = [];
  for (let i = 0; i < 2; i++) {
    const rt = await h.separateRuntime({
      orchestrationConcurrency: 4,
      orchestratorLockTimeoutMs: 200,
      limits: runtimeLimits,
    });
    rt.registerActivity("Head", async (ctx, text: string) => {
      if (ctx.instanceId === "big") bigActivityRuns++;
      return text.slice(0, 8);
    });
    rt.registerOrchestration("Big", function* (ctx, input: string) {
      const head = yield ctx.scheduleActivity("Head", input.slice(0, 100));
      return { head, length: input.length };
    });
    rt.registerOrchestration("Small", function* (ctx, n: number) {
      return (yield ctx.scheduleActivity("Head", `small-${n}`)) as string;
    });
    runtimes.push(rt);
  }
  for (const rt of runtimes) await rt.start();
});

afterAll(async () => {
  await h?.close();
});

describe("a huge input", () => {
  it("(a) is refused at the client when over the payload limit, naming the limit and the size", async () => {
    const client = new Client(h.provider, { limits: { maxPayloadBytes: 1 * MiB } });
    const error = await client.startOrchestration("too-big", "Big", bigInput).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LimitError);
    expect((error as Error).message).toBe(
      "input of orchestration 'Big' is 2000002 bytes encoded, over the payload limit maxPayloadBytes = 1048576 bytes",
    );
    await expect(client.raiseEvent("too-big", "e", bigInput)).rejects.toThrow(/maxPayloadBytes = 1048576/);
    await expect(client.enqueueEvent("too-big", "q", bigInput)).rejects.toThrow(/maxPayloadBytes = 1048576/);
    expect(await h.client.getStatus("too-big")).toEqual({ status: "NotFound" });
    // The default limit (1 MiB) refuses it too.
    await expect(h.client.startOrchestration("too-big", "Big", bigInput)).rejects.toThrow(LimitError);
  });

  it("(b, c) allowed but slower to fetch than its lock: completes once, while others keep completing", async () => {
    const client = new Client(h.provider, { limits: runtimeLimits });
    await client.startOrchestration("big", "Big", bigInput);
    const small = Array.from({ length: 20 }, (_, i) => `small-${i}`);
    for (const [i, id] of small.entries()) await client.startOrchestration(id, "Small", i);

    for (const [i, id] of small.entries())
      expect(await client.waitForOrchestrationTyped(id, 60_000)).toBe(`small-${i}`.slice(0, 8));
    expect(await client.waitForOrchestrationTyped("big", 60_000)).toEqual({
      head: bigInput.slice(0, 8),
      length: bigInput.length,
    });

    expect(bigActivityRuns).toBe(1);
    const history = await h.history("big");
    expect(history.map((e) => e.type)).toEqual([
      "OrchestrationStarted",
      "ActivityScheduled",
      "ActivityCompleted",
      "OrchestrationCompleted",
    ]);
  });
});

describe("runtime budgets", () => {
  let rt: Runtime;
  let hb: Harness;
  const limits = { maxPayloadBytes: 64 * 1024, maxHistoryBytes: 256 * 1024 };

  beforeAll(async () => {
    hb = await createHarness("faults_budget");
    rt = hb.runtime({ limits });
    rt.registerActivity("Blob", async (_ctx, kib: number) => "x".repeat(kib * 1024));
    rt.registerOrchestration("BigResult", function* (ctx) {
      return yield ctx.scheduleActivity("Blob", 100);
    });
    // biome-ignore lint/correctness/useYield: an orchestration that needs no step
    rt.registerOrchestration("BigOutput", function* () {
      return "y".repeat(100 * 1024);
    });
    rt.registerOrchestration("LongHistory", function* (ctx) {
      for (let i = 0; i < 10; i++) yield ctx.scheduleActivity("Blob", 40);
      return "never";
    });
    await rt.start();
  });

  afterAll(async () => {
    await hb?.close();
  });

  it("an activity result over the limit fails the activity with the limit's error", async () => {
    await hb.client.startOrchestration("r1", "BigResult");
    const status = await hb.client.waitForOrchestration("r1", 20_000);
    expect(status.status).toBe("Failed");
    expect((status as { error: string }).error).toContain(
      "result of activity 'Blob' is 102402 bytes encoded, over the payload limit maxPayloadBytes = 65536 bytes",
    );
  });

  it("an orchestration output over the limit fails the orchestration instead of being stored", async () => {
    await hb.client.startOrchestration("o1", "BigOutput");
    const status = await hb.client.waitForOrchestration("o1", 20_000);
    expect(status.status).toBe("Failed");
    expect((status as { error: string }).error).toMatch(
      /OrchestrationCompleted\.output is 102402 bytes encoded, over the payload limit maxPayloadBytes = 65536 bytes/,
    );
    expect((await hb.history("o1")).map((e) => e.type)).toEqual([
      "OrchestrationStarted",
      "OrchestrationFailed",
    ]);
  });

  it("a history over its budget fails the orchestration, naming maxHistoryBytes", async () => {
    await hb.client.startOrchestration("h1", "LongHistory");
    const status = await hb.client.waitForOrchestration("h1", 30_000);
    expect(status.status).toBe("Failed");
    expect((status as { error: string }).error).toMatch(
      /history of execution 1 would be \d+ bytes encoded, over the history limit maxHistoryBytes = 262144 bytes/,
    );
    const history = await hb.history("h1");
    const completed = history.filter((e) => e.type === "ActivityCompleted").length;
    expect(completed).toBeGreaterThanOrEqual(5); // 40 KiB each: the sixth breaks 256 KiB
    expect(completed).toBeLessThan(7);
  });
});
