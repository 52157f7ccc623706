import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness } from "./harness.ts";

let h: Harness;

beforeAll(async () => {
  h = await createHarness("rt_unreg");
  const runtime = h.runtime({
    maxAttempts: 2,
    unregisteredBackoffMs: 20,
    unregisteredBackoffMaxMs: 50,
    logLevel: "silent",
  });
  runtime.registerOrchestration("CallsMissing", function* (ctx) {
    return yield ctx.scheduleActivity("NoSuchActivity", 1);
  });
  await runtime.start();
});

afterAll(async () => {
  await h?.close();
});

describe("unregistered handlers", () => {
  it("fails the orchestration when its activity is registered nowhere, once attempts run out", async () => {
    await h.client.startOrchestration("missing-activity", "CallsMissing");
    const status = await h.client.waitForOrchestration("missing-activity", 20_000);
    expect(status.status).toBe("Failed");
    if (status.status !== "Failed") return;
    expect(status.error).toContain("poison: activity NoSuchActivity#2");
    expect(status.details).toMatchObject({
      Poison: { message_type: { Activity: { activity_name: "NoSuchActivity" } } },
    });
  });

  it("backs off and finally poisons an orchestration no runtime has registered", async () => {
    await h.client.startOrchestration("missing-orch", "NoSuchOrchestration", { x: 1 });
    const status = await h.client.waitForOrchestration("missing-orch", 20_000);
    expect(status.status).toBe("Failed");
    if (status.status !== "Failed") return;
    expect(status.error).toContain("poison: orchestration missing-orch exceeded 3 attempts (max 2)");
  });
});
