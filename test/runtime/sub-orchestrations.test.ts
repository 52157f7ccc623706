import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness, types } from "./harness.ts";

let h: Harness;

beforeAll(async () => {
  h = await createHarness("rt_sub");
  const runtime = h.runtime();
  runtime.registerActivity("Upper", async (_ctx, s: string) => s.toUpperCase());
  runtime.registerActivity("Explode", async () => {
    throw new Error("leaf exploded");
  });
  runtime.registerOrchestration("Leaf", function* (ctx, s: string) {
    const upper: string = yield ctx.scheduleActivity("Upper", s);
    return `${upper}-leaf`;
  });
  runtime.registerOrchestration("Mid", function* (ctx, s: string) {
    return `${yield ctx.scheduleSubOrchestration("Leaf", s)}-mid`;
  });
  runtime.registerOrchestration("Root", function* (ctx, s: string) {
    return `${yield ctx.scheduleSubOrchestration("Mid", s)}-root`;
  });
  runtime.registerOrchestration("FailingChild", function* (ctx) {
    yield ctx.scheduleActivity("Explode");
  });
  runtime.registerOrchestration("CatchChild", function* (ctx) {
    try {
      yield ctx.scheduleSubOrchestration("FailingChild");
      return "no error";
    } catch (error) {
      return `caught: ${(error as Error).message}`;
    }
  });
  runtime.registerOrchestration("NamedChildren", function* (ctx) {
    return yield ctx.all([
      ctx.scheduleSubOrchestrationWithId("Leaf", `${ctx.instanceId}-a`, "a"),
      ctx.scheduleSubOrchestrationWithId("Leaf", `${ctx.instanceId}-b`, "b"),
    ]);
  });
  runtime.registerOrchestration("Detach", function* (ctx) {
    yield ctx.startOrchestration("Leaf", `${ctx.instanceId}-detached`, "free");
    return "started";
  });
  runtime.registerOrchestration("Forever", function* (ctx) {
    yield ctx.waitForEvent("never");
  });
  runtime.registerOrchestration("ChildEachGeneration", function* (ctx, generation: number) {
    const result: string = yield ctx.scheduleSubOrchestration("Leaf", `g${generation}`);
    if (generation < 3) return yield ctx.continueAsNew(generation + 1);
    return result;
  });
  runtime.registerOrchestration("AbandonChildThenContinue", function* (ctx, generation: number) {
    const raced = yield ctx.race(ctx.scheduleSubOrchestration("Forever"), ctx.scheduleTimer(50));
    if (generation < 2) return yield ctx.continueAsNew(generation + 1);
    const leaf: string = yield ctx.scheduleTimer(300);
    return { raced: raced.index, leaf };
  });
  await runtime.start();
});

afterAll(async () => {
  await h?.close();
});

describe("sub-orchestrations", () => {
  it("runs sub-orchestrations three levels deep and passes results up", async () => {
    await h.client.startOrchestration("root-1", "Root", "ax");
    expect(await h.client.waitForOrchestrationTyped("root-1", 30_000)).toBe("AX-leaf-mid-root");
    const scheduled = (await h.history("root-1")).find((e) => e.type === "SubOrchestrationScheduled");
    expect(scheduled).toMatchObject({ name: "Mid", instance: `sub::${scheduled?.event_id}` });
    const mid = `root-1::sub::${scheduled?.event_id}`;
    expect(await h.client.getStatus(mid)).toMatchObject({ status: "Completed", output: '"AX-leaf-mid"' });
  });

  it("lets a parent catch a child's failure with the child's message", async () => {
    await h.client.startOrchestration("catch-child-1", "CatchChild");
    expect(await h.client.waitForOrchestrationTyped("catch-child-1", 30_000)).toBe("caught: leaf exploded");
  });

  it("runs children with explicit ids in parallel", async () => {
    await h.client.startOrchestration("named-1", "NamedChildren");
    expect(await h.client.waitForOrchestrationTyped("named-1", 30_000)).toEqual([
      { ok: "A-leaf" },
      { ok: "B-leaf" },
    ]);
    expect(await h.client.getStatus("named-1-a")).toMatchObject({ status: "Completed" });
  });

  it("calls a child in every generation of a parent that continues as new", async () => {
    await h.client.startOrchestration("gens-1", "ChildEachGeneration", 1);
    expect(await h.client.waitForOrchestrationTyped("gens-1", 30_000)).toBe("G3-leaf");
  });

  it("drops the answer of a child the parent abandoned before continuing as new", async () => {
    await h.client.startOrchestration("abandon-1", "AbandonChildThenContinue", 1);
    expect(await h.client.waitForOrchestrationTyped("abandon-1", 30_000)).toEqual({ raced: 1, leaf: null });
    const loser = (await h.client.getStatus("abandon-1::sub::2")).status;
    expect(loser).toBe("Failed"); // cancelled as a race loser; its SubOrchFailed went nowhere
  });

  it("starts a detached orchestration that runs on after its starter completed", async () => {
    await h.client.startOrchestration("detach-1", "Detach");
    expect(await h.client.waitForOrchestrationTyped("detach-1", 30_000)).toBe("started");
    expect(await h.client.waitForOrchestrationTyped("detach-1-detached", 30_000)).toBe("FREE-leaf");
    expect(types(await h.history("detach-1"))).toContain("OrchestrationChained");
  });
});
