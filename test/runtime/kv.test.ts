import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness, waitForHistory } from "./harness.ts";

let h: Harness;

beforeAll(async () => {
  h = await createHarness("rt_kv");
  const runtime = h.runtime();
  runtime.registerActivity("Noop", async () => null);
  runtime.registerOrchestration("Counter", function* (ctx, rounds: number) {
    for (let i = 0; i < rounds; i++) {
      const current = Number(ctx.getValue("count") ?? "0");
      ctx.setValue("count", String(current + 1));
      yield ctx.scheduleActivity("Noop");
    }
    return ctx.getValue("count");
  });
  runtime.registerOrchestration("Generations", function* (ctx, n: number) {
    ctx.setValue(`gen-${n}`, String(n));
    ctx.setValue("latest", String(n));
    if (n < 3) return yield ctx.continueAsNew(n + 1);
    return ctx.getKvAllValues();
  });
  runtime.registerOrchestration("Publisher", function* (ctx) {
    ctx.setValue("stage", "published");
    ctx.setValue("temp", "x");
    ctx.clearValue("temp");
    yield ctx.waitForEvent("finish");
    ctx.clearAllValues();
    return ctx.getKvLength();
  });
  await runtime.start();
});

afterAll(async () => {
  await h?.close();
});

describe("key/value store", () => {
  it("applies a read-modify-write once per turn, not again on replay", async () => {
    await h.client.startOrchestration("counter-1", "Counter", 3);
    expect(await h.client.waitForOrchestrationTyped("counter-1", 20_000)).toBe("3");
    expect(await h.client.getValue("counter-1", "count")).toBe("3");
  });

  it("keeps values across continue-as-new", async () => {
    await h.client.startOrchestration("gens-1", "Generations", 1);
    expect(await h.client.waitForOrchestrationTyped("gens-1", 20_000)).toEqual({
      "gen-1": "1",
      "gen-2": "2",
      "gen-3": "3",
      latest: "3",
    });
    expect(await h.client.getKvAllValues("gens-1")).toEqual({
      "gen-1": "1",
      "gen-2": "2",
      "gen-3": "3",
      latest: "3",
    });
  });

  it("shows values to the client while the instance runs, and clears them", async () => {
    await h.client.startOrchestration("pub-1", "Publisher");
    await waitForHistory(h, "pub-1", "ExternalSubscribed");
    expect(await h.client.waitForValue("pub-1", "stage", 10_000)).toBe("published");
    expect(await h.client.getValue("pub-1", "temp")).toBeNull();
    await h.client.raiseEvent("pub-1", "finish");
    expect(await h.client.waitForOrchestrationTyped("pub-1", 20_000)).toBe(0);
    expect(await h.client.getKvAllValues("pub-1")).toEqual({});
  });
});
