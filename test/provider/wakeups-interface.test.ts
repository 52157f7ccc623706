/**
 * PostgresProvider's wake-ups as the runtime uses them (Provider.wakeups; docs/architecture.md,
 * "Wake-ups"): a slot's WorkWaiter fetches without waiting, then waits until work it can take is
 * enqueued (here by another provider, like another process), a delayed row comes due, or its
 * signal aborts; an instance watch ends when an ack through the provider changes the instance.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresProvider } from "../../src/provider/postgres-provider.ts";
import type { WorkFetch, WorkItem } from "../../src/provider/types.ts";
import { createTestSchema, type TestSchema } from "../../src/testing/test-schema.ts";

let db: TestSchema;
/** The provider whose wake-ups are tested. */
let provider: PostgresProvider;
/** Another process's provider: its enqueues reach `provider` only through LISTEN/NOTIFY. */
let other: PostgresProvider;

const ORCHESTRATOR: WorkFetch = { queue: "orchestrator", filter: null };
const LOCK_MS = 30_000;
/** Far longer than any wait below should last. */
const LONG_WAIT_MS = 20_000;

const start = (instance: string): WorkItem => ({
  StartOrchestration: {
    instance,
    orchestration: "Any",
    input: "null",
    version: null,
    parent_instance: null,
    parent_id: null,
    execution_id: 1,
  },
});

function within<T>(promise: Promise<T>, ms = 3_000): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`not woken within ${ms} ms`)), ms)),
  ]);
}

/** A waiter whose first fetch found nothing, and the wait that followed it. */
async function idleWait(signal?: AbortSignal): Promise<{ woken: Promise<void>; settled: () => boolean }> {
  const waiter = provider.wakeups!.workWaiter();
  const found = await waiter.fetch(ORCHESTRATOR, () => provider.fetchOrchestrationItem(LOCK_MS, 0, null));
  expect(found).toBeNull();
  let done = false;
  const woken = waiter.wait(LONG_WAIT_MS, signal).finally(() => {
    done = true;
  });
  return { woken, settled: () => done };
}

/** Take (and give back) whatever the queue holds, so each test starts from an empty one. */
async function drain(): Promise<void> {
  for (;;) {
    const found = await provider.fetchOrchestrationItem(LOCK_MS, 0, null);
    if (!found) return;
    await provider.ackOrchestrationItem(found.lockToken, found.item.executionId, [], [], [], {}, []);
  }
}

beforeAll(async () => {
  db = await createTestSchema({ prefix: "wake_iface" });
  provider = await PostgresProvider.create({ pool: db.pool, schema: db.schema });
  other = await PostgresProvider.create({ pool: db.pool, schema: db.schema, longPoll: false });
  // Let the listener connect: its first connection makes every waiter re-check once.
  provider.wakeups!.workWaiter();
  await provider.fetchOrchestrationItem(LOCK_MS, 1, null);
  const deadline = Date.now() + 10_000;
  while (provider.wakeupMode() !== "listen") {
    if (Date.now() > deadline) throw new Error("wake-up listener did not connect");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
});

afterAll(async () => {
  await provider?.close();
  await other?.close();
  await db?.drop();
});

describe("PostgresProvider.wakeups", () => {
  it("is absent with longPoll: false (runtimes then poll)", () => {
    expect(other.wakeups).toBeUndefined();
    expect(provider.wakeups).toBeDefined();
  });

  it("ends a slot's wait when another process enqueues work, and the next fetch takes it", async () => {
    await drain();
    const { woken, settled } = await idleWait();
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(settled()).toBe(false); // nothing arrived: still waiting
    await other.enqueueForOrchestrator(start("notified-1"), null);
    await within(woken);
    const found = await provider.fetchOrchestrationItem(LOCK_MS, 0, null);
    expect(found?.item.instance).toBe("notified-1");
    await provider.ackOrchestrationItem(found!.lockToken, 1, [], [], [], {}, []);
  });

  it("ends the wait when a delayed row comes due, with no notification then (next_wakeup_at)", async () => {
    await drain();
    await other.enqueueForOrchestrator(start("delayed-1"), 800);
    const began = Date.now();
    // A slot's loop: a wait may end early (a wake-up that was not for it), never late.
    const waiter = provider.wakeups!.workWaiter();
    let found = null;
    while (found === null && Date.now() - began < 10_000) {
      found = await waiter.fetch(ORCHESTRATOR, () => provider.fetchOrchestrationItem(LOCK_MS, 0, null));
      if (found === null) await waiter.wait(LONG_WAIT_MS);
    }
    expect(found?.item.instance).toBe("delayed-1");
    // Unarmed, the wait would last the 5 s idle re-check.
    expect(Date.now() - began).toBeLessThan(3_000);
    await provider.ackOrchestrationItem(found!.lockToken, 1, [], [], [], {}, []);
  });

  it("ends the wait at once when its signal aborts (how a runtime shuts down)", async () => {
    await drain();
    const stop = new AbortController();
    const { woken, settled } = await idleWait(stop.signal);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(settled()).toBe(false);
    stop.abort();
    await within(woken, 1_000);
  });

  it("ends an instance watch when an ack through the provider completes the instance", async () => {
    await drain();
    await provider.enqueueForOrchestrator(start("watched-1"), null);
    const found = await provider.fetchOrchestrationItem(LOCK_MS, 0, null);
    expect(found?.item.instance).toBe("watched-1");
    const watch = provider.wakeups!.watchInstance("watched-1");
    const unrelated = provider.wakeups!.watchInstance("someone-else");
    const stopUnrelated = new AbortController();
    let unrelatedWoken = false;
    void unrelated.wait(LONG_WAIT_MS, stopUnrelated.signal).then(() => {
      unrelatedWoken = true;
    });
    const woken = watch.wait(LONG_WAIT_MS);
    const envelope = (event_id: number) => ({
      event_id,
      source_event_id: null,
      instance_id: "watched-1",
      execution_id: 1,
      timestamp_ms: Date.now(),
      duroxide_version: "0.1.32",
    });
    await provider.ackOrchestrationItem(
      found!.lockToken,
      1,
      [
        {
          ...envelope(1),
          type: "OrchestrationStarted",
          name: "Any",
          version: "1.0.0",
          input: "null",
          parent_instance: null,
          parent_id: null,
        },
        { ...envelope(2), type: "OrchestrationCompleted", output: "42" },
      ],
      [],
      [],
      { status: "Completed", output: "42", orchestrationName: "Any", orchestrationVersion: "1.0.0" },
      [],
    );
    await within(woken, 1_000);
    expect(unrelatedWoken).toBe(false);
    stopUnrelated.abort();
  });
});
