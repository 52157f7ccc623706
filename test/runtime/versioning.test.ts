import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Runtime } from "../../src/runtime/runtime.ts";
import { createHarness, type Harness, waitForHistory } from "./harness.ts";

let h: Harness;

beforeEach(async () => {
  h = await createHarness("rt_version");
});

afterEach(async () => {
  await h?.close();
});

function registerV1(rt: Runtime): void {
  rt.registerActivity("Echo", async (_ctx, x: unknown) => x);
  rt.registerOrchestration("Worker", function* (ctx, generation: number) {
    yield ctx.waitForEvent("next");
    return yield ctx.continueAsNew(generation + 1);
  });
}

describe("versioning", () => {
  it("keeps running instances on their version and upgrades them when they continue as new", async () => {
    const v1 = h.runtime();
    registerV1(v1);
    v1.registerOrchestration("Job", function* (ctx) {
      yield ctx.waitForEvent("go");
      return `job v1 on ${ctx.orchestrationVersion}`;
    });
    await v1.start();
    await h.client.startOrchestration("worker-1", "Worker", 1);
    await h.client.startOrchestration("job-old", "Job");
    await waitForHistory(h, "worker-1", "ExternalSubscribed");
    await waitForHistory(h, "job-old", "ExternalSubscribed");
    await v1.shutdown(2000);

    // A rolling deployment: the new node knows 1.0.0 and 2.0.0.
    const v2 = h.runtime();
    registerV1(v2);
    v2.registerOrchestrationVersioned("Worker", "2.0.0", function* (ctx, generation: number) {
      yield ctx.scheduleTimer(0);
      return `upgraded at generation ${generation} to ${ctx.orchestrationVersion}`;
    });
    v2.registerOrchestration("Job", function* (ctx) {
      yield ctx.waitForEvent("go");
      return `job v1 on ${ctx.orchestrationVersion}`;
    });
    v2.registerOrchestrationVersioned("Job", "2.0.0", function* (ctx) {
      yield ctx.scheduleTimer(0);
      return `job v2 on ${ctx.orchestrationVersion}`;
    });
    await v2.start();
    await h.client.startOrchestration("job-new", "Job");
    expect(await h.client.waitForOrchestrationTyped("job-new", 20_000)).toBe("job v2 on 2.0.0");

    await h.client.raiseEvent("job-old", "go");
    expect(await h.client.waitForOrchestrationTyped("job-old", 20_000)).toBe("job v1 on 1.0.0");

    await h.client.raiseEvent("worker-1", "next");
    expect(await h.client.waitForOrchestrationTyped("worker-1", 20_000)).toBe(
      "upgraded at generation 2 to 2.0.0",
    );
  });

  it("starts exactly the version a client asks for", async () => {
    const rt = h.runtime();
    rt.registerOrchestration("Pick", function* (ctx) {
      yield ctx.scheduleTimer(0);
      return ctx.orchestrationVersion;
    });
    rt.registerOrchestrationVersioned("Pick", "1.1.0", function* (ctx) {
      yield ctx.scheduleTimer(0);
      return ctx.orchestrationVersion;
    });
    await rt.start();
    await h.client.startOrchestrationVersioned("pick-1", "Pick", null, "1.0.0");
    await h.client.startOrchestration("pick-2", "Pick");
    expect(await h.client.waitForOrchestrationTyped("pick-1", 20_000)).toBe("1.0.0");
    expect(await h.client.waitForOrchestrationTyped("pick-2", 20_000)).toBe("1.1.0");
  });

  it("fails an instance whose code no longer matches its history, naming both", async () => {
    const before = h.runtime();
    before.registerActivity("Charge", async () => "charged");
    before.registerOrchestration("Order", function* (ctx) {
      yield ctx.scheduleActivity("Charge", 10);
      yield ctx.waitForEvent("ship");
      return "done";
    });
    await before.start();
    await h.client.startOrchestration("order-1", "Order");
    await waitForHistory(h, "order-1", "ExternalSubscribed");
    await before.shutdown(2000);

    const after = h.runtime();
    after.registerActivity("Charge", async () => "charged");
    after.registerOrchestration("Order", function* (ctx) {
      yield ctx.scheduleTimer(10); // changed without a new version
      yield ctx.waitForEvent("ship");
      return "done";
    });
    await after.start();
    await h.client.raiseEvent("order-1", "ship");
    const status = await h.client.waitForOrchestration("order-1", 20_000);
    expect(status.status).toBe("Failed");
    if (status.status !== "Failed") return;
    expect(status.details).toMatchObject({ Configuration: { kind: "Nondeterminism" } });
    expect(status.error).toContain("TimerCreated");
    expect(status.error).toContain("ActivityScheduled(Charge");
  });
});
