import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Runtime } from "../../src/runtime/runtime.ts";
import { createHarness, type Harness } from "./harness.ts";

let h: Harness;

function register(rt: Runtime, node: string): void {
  rt.registerActivity("Render", async (ctx) => `${node}:${ctx.tag() ?? "untagged"}`);
  rt.registerOrchestration("Pipeline", function* (ctx) {
    const gpu: string = yield ctx.scheduleActivity("Render", 1).withTag("gpu");
    const cpu: string = yield ctx.scheduleActivityWithTag("Render", 2, "cpu");
    const plain: string = yield ctx.scheduleActivity("Render", 3);
    return [gpu, cpu, plain];
  });
  rt.registerOrchestration("NobodyServes", function* (ctx) {
    const raced = yield ctx.race(
      ctx.scheduleActivity("Render", 4, { tag: "quantum" }),
      ctx.scheduleTimer(200),
    );
    const fallback: string = yield ctx.scheduleActivity("Render", 5);
    return { raced, fallback };
  });
}

beforeAll(async () => {
  h = await createHarness("rt_tags");
  const main = await h.separateRuntime(); // untagged work only (the default filter)
  const gpu = await h.separateRuntime({ orchestrationConcurrency: 0, workerTagFilter: { tags: ["gpu"] } });
  const cpu = await h.separateRuntime({
    orchestrationConcurrency: 0,
    workerTagFilter: { defaultAnd: ["cpu"] },
  });
  register(main, "main");
  register(gpu, "gpu-node");
  register(cpu, "cpu-node");
  for (const rt of [main, gpu, cpu]) await rt.start();
});

afterAll(async () => {
  await h?.close();
});

describe("activity tags", () => {
  it("routes each tagged activity to a worker whose filter accepts the tag", async () => {
    await h.client.startOrchestration("pipeline-1", "Pipeline");
    const [gpu, cpu, plain] = await h.client.waitForOrchestrationTyped<string[]>("pipeline-1", 30_000);
    expect(gpu).toBe("gpu-node:gpu");
    expect(cpu).toBe("cpu-node:cpu");
    expect(plain).toMatch(/^(main|cpu-node):untagged$/);
  });

  it("leaves a tag no worker accepts waiting, so a timer can win the race", async () => {
    await h.client.startOrchestration("nobody-1", "NobodyServes");
    const output = await h.client.waitForOrchestrationTyped<{ raced: { index: number }; fallback: string }>(
      "nobody-1",
      30_000,
    );
    expect(output.raced.index).toBe(1);
    expect(output.fallback).toMatch(/untagged$/);
  });

  it("refuses a worker tag filter with no tags or more than five", () => {
    expect(() => h.runtime({ workerTagFilter: { tags: [] } })).toThrow(/at least one tag/);
    expect(() => h.runtime({ workerTagFilter: { defaultAnd: ["a", "b", "c", "d", "e", "f"] } })).toThrow(
      /at most 5/,
    );
  });
});
