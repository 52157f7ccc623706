/**
 * Unstorable input (docs/limits.md): inputs the store accepts in its queue but can never store in history or metadata.
 * The client refuses them with a clear error; an instance that got into the queue anyway (written
 * through the provider, like an older client or another tool would) still ends through the poison
 * path instead of being retried forever.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WorkItem } from "../../src/provider/types.ts";
import { LimitError } from "../../src/runtime/limits.ts";
import type { Runtime } from "../../src/runtime/runtime.ts";
import { createHarness, eventually, type Harness } from "../runtime/harness.ts";

let h: Harness;
let runtime: Runtime;

beforeAll(async () => {
  h = await createHarness("faults_unstorable");
  runtime = h.runtime({ maxAttempts: 2, orchestratorLockTimeoutMs: 1000 });
  // biome-ignore lint/correctness/useYield: an orchestration that needs no step
  runtime.registerOrchestration("Echo", function* (_ctx, input: unknown) {
    return input;
  });
  await runtime.start();
});

afterAll(async () => {
  await h?.close();
});

/** `n` bytes of incompressible ASCII (base64 of random bytes): the index cannot compress it. */
function incompressible(n: number): string {
  return randomBytes(n).toString("base64").slice(0, n);
}

function start(instance: string, orchestration: string, version: string | null = null): WorkItem {
  return {
    StartOrchestration: {
      instance,
      orchestration,
      input: "null",
      version,
      parent_instance: null,
      parent_id: null,
      execution_id: 1,
    },
  };
}

/** Rows still queued for the instance: 0 once it ended (acked or dropped). */
async function queued(instance: string): Promise<number> {
  const { rows } = await h.db.pool.query(
    `SELECT count(*)::int AS n FROM "${h.db.schema}".orchestrator_queue WHERE instance_id = $1`,
    [instance],
  );
  return rows[0].n;
}

describe("the client refuses what the store cannot keep", () => {
  it("refuses NUL or a lone surrogate in an orchestration name or version, naming the field", async () => {
    await expect(h.client.startOrchestration("u-nul-name", "Ec\u0000ho")).rejects.toThrow(
      /orchestration name contains a NUL character/,
    );
    await expect(h.client.startOrchestrationVersioned("u-nul-ver", "Echo", 1, "1.0\u0000")).rejects.toThrow(
      /orchestration version contains a NUL character/,
    );
    await expect(h.client.startOrchestration("u-sur", "Echo\uD800")).rejects.toThrow(/lone UTF-16 surrogate/);
    await expect(h.client.raiseEvent("u-ev", "go\u0000", 1)).rejects.toThrow(/event name contains a NUL/);
    await expect(h.client.enqueueEvent("u-q", "q\uDC00", 1)).rejects.toThrow(/queue name contains a lone/);
    expect(await queued("u-nul-name")).toBe(0);
  });

  it("refuses an instance id over its byte limit (the history index cannot hold ~2,680 bytes)", async () => {
    const id = incompressible(2682);
    const error = await h.client.startOrchestration(id, "Echo").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LimitError);
    expect((error as Error).message).toBe("instance id is 2682 bytes (UTF-8), over its limit of 1024 bytes");
    // Multi-byte characters count as their UTF-8 size: 400 × "€" is 1,200 bytes.
    await expect(h.client.startOrchestration("€".repeat(400), "Echo")).rejects.toThrow(/1200 bytes/);
    await expect(h.client.raiseEvent("u-x", "e".repeat(1025))).rejects.toThrow(/event name is 1025 bytes/);
    // The limit itself is storable end to end.
    const longest = incompressible(1024);
    await h.client.startOrchestration(longest, "Echo", "fits");
    expect(await h.client.waitForOrchestrationTyped(longest, 20_000)).toBe("fits");
  });
});

describe("the poison path ends an instance whose failure record cannot be stored", () => {
  it("a NUL in the orchestration name: the instance fails with a minimal record", async () => {
    await h.provider.enqueueForOrchestrator(start("u-poison-nul", "Ec\u0000ho", "1.0\u0000"), null);
    const status = await h.client.waitForOrchestration("u-poison-nul", 30_000);
    expect(status.status).toBe("Failed");
    expect("Poison" in (status as { details: object }).details).toBe(true);
    const history = await h.history("u-poison-nul");
    expect(history.map((e) => e.type)).toEqual(["OrchestrationStarted", "OrchestrationFailed"]);
    const info = await h.client.getInstanceInfo("u-poison-nul");
    expect(info.orchestrationName).toBe("Ec\uFFFDho");
    expect(await queued("u-poison-nul")).toBe(0);
  });

  it("an instance id the history index cannot hold: the batch is dropped, nothing is retried", async () => {
    const id = incompressible(2682); // fits orchestrator_queue_instance_idx, never history_pkey
    await h.provider.enqueueForOrchestrator(start(id, "Echo"), null);
    expect(await queued(id)).toBe(1);
    await eventually(async () => (await queued(id)) === 0, 30_000);
    expect(await h.history(id)).toEqual([]);
    // And the runtime still serves other instances.
    await h.client.startOrchestration("u-after", "Echo", 7);
    expect(await h.client.waitForOrchestrationTyped("u-after", 20_000)).toBe(7);
  });
});
