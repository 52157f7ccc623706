/**
 * The parent link of a child orchestration (docs/replay-rules.md §3 and §5, duroxide ≥ 0.1.30): the child's
 * StartOrchestration and OrchestrationStarted carry parent_execution_id, continue-as-new keeps the
 * whole link, and the child's last turn answers the right parent execution without reading the
 * parent's history. Histories without the field still get the read as a fallback.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Provider } from "../../src/provider/types.ts";
import { Runtime } from "../../src/runtime/runtime.ts";
import { createHarness, FAST, type Harness } from "./harness.ts";

let h: Harness;
let runtime: Runtime;
/** Instances whose full history the runtime read (provider.read), in order. */
const reads: string[] = [];

beforeAll(async () => {
  h = await createHarness("rt_link");
  // The runtime's provider records every read(); everything else goes straight through.
  const counting = new Proxy(h.provider, {
    get(target, key) {
      if (key === "read") {
        return (instance: string) => {
          reads.push(instance);
          return target.read(instance);
        };
      }
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as Provider;
  runtime = new Runtime(counting, FAST);
  runtime.registerOrchestration("Child", function* (ctx, n: number) {
    if (n > 0) return yield ctx.continueAsNew(n - 1);
    return `child-done-in-${ctx.executionId}`;
  });
  runtime.registerOrchestration("Parent", function* (ctx, n: number) {
    return yield ctx.scheduleSubOrchestration("Child", n);
  });
  await runtime.start();
});

afterAll(async () => {
  await runtime.shutdown();
  await h.close();
});

describe("parent link", () => {
  it("records parent_execution_id on the child's start and answers without reading the parent", async () => {
    reads.length = 0;
    await h.client.startOrchestration("link-plain", "Parent", 0);
    const status = await h.client.waitForOrchestration("link-plain", 10_000);
    expect(status).toMatchObject({ status: "Completed", output: "child-done-in-1" });
    const child = await h.provider.read("link-plain::sub::2");
    expect(child[0]).toMatchObject({
      type: "OrchestrationStarted",
      parent_instance: "link-plain",
      parent_id: 2,
      parent_execution_id: 1,
    });
    expect(reads).not.toContain("link-plain");
  });

  it("keeps the whole link through the child's continue-as-new", async () => {
    reads.length = 0;
    await h.client.startOrchestration("link-can", "Parent", 2);
    const status = await h.client.waitForOrchestration("link-can", 10_000);
    expect(status).toMatchObject({ status: "Completed", output: "child-done-in-3" });
    const admin = h.provider.asManagementCapability()!;
    for (const execution of [1, 2, 3]) {
      const events = await admin.readHistoryWithExecutionId("link-can::sub::2", execution);
      expect(events[0], `execution ${execution}`).toMatchObject({
        type: "OrchestrationStarted",
        parent_instance: "link-can",
        parent_id: 2,
        parent_execution_id: 1,
      });
      // Every execution is closed, a continued-as-new one included.
      const info = await admin.getExecutionInfo("link-can::sub::2", execution);
      expect(info.status, `execution ${execution}`).toBe(execution < 3 ? "ContinuedAsNew" : "Completed");
      expect(info.completedAt, `execution ${execution}`).not.toBeNull();
    }
    expect(reads).not.toContain("link-can");
  });

  it("falls back to reading the parent when the child's start has no parent_execution_id", async () => {
    // A parent with a scheduled child, as an older writer would leave it: the child's start
    // carries parent_instance/parent_id only.
    await h.client.startOrchestration("link-old", "Parent", 1);
    const child = "link-old::sub::2";
    await h.client.waitForOrchestration("link-old", 10_000);
    // Run a second child by hand with a start lacking the field, addressed to the same parent event.
    reads.length = 0;
    await h.provider.enqueueForOrchestrator(
      {
        StartOrchestration: {
          instance: "link-old-orphan",
          orchestration: "Child",
          input: "0",
          version: null,
          parent_instance: "link-old",
          parent_id: 2,
          execution_id: 1,
        },
      },
      null,
    );
    const status = await h.client.waitForOrchestration("link-old-orphan", 10_000);
    expect(status).toMatchObject({ status: "Completed" });
    // It looked the parent up: the parent's event 2 names another child, so the answer is
    // addressed to no execution and the parent (already completed) is left as it was.
    expect(reads).toContain("link-old");
    expect((await h.provider.read(child))[0]).toMatchObject({ parent_execution_id: 1 });
    expect((await h.client.getStatus("link-old")).status).toBe("Completed");
  });
});
