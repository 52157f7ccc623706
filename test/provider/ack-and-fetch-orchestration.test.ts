/**
 * ackOrchestrationItemAndFetchNext (ack_and_fetch_orchestration_item): one call that commits a
 * turn exactly as ackOrchestrationItem does, then fetches as fetchOrchestrationItem does; a failed
 * ack fetches nothing and keeps the lock. An empty fetch (this one, or fetch_orchestration_item_or_wakeup
 * behind fetchOrchestrationItem) tells the provider's waiters the queue's next wake-up, so their
 * wait needs no next_wakeup_at query. A fake clock drives the store's time.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PostgresProvider } from "../../src/provider/postgres-provider.ts";
import type {
  Event,
  ExecutionMetadata,
  FetchedOrchestrationItem,
  WorkItem,
} from "../../src/provider/types.ts";
import { createTestSchema, type TestSchema } from "../../src/testing/test-schema.ts";

const T0 = 1_700_000_000_000;
const LOCK_MS = 5_000;

let store: TestSchema;
let provider: PostgresProvider;
let now = T0;

beforeAll(async () => {
  store = await createTestSchema({ prefix: "r4_orch_ackfetch" });
  // With wake-ups (longPoll), so that empty fetches feed the waiters' next wake-up.
  provider = await PostgresProvider.create({ pool: store.pool, schema: store.schema, clock: () => now });
});

afterAll(async () => {
  await provider.close();
  await store.drop();
});

beforeEach(async () => {
  now = T0;
  for (const table of ["orchestrator_queue", "instance_locks", "history", "executions", "instances"]) {
    await store.pool.query(`DELETE FROM "${store.schema}".${table}`);
  }
});

const start = (instance: string): WorkItem => ({
  StartOrchestration: {
    instance,
    orchestration: "Orch",
    input: "{}",
    version: "1.0.0",
    parent_instance: null,
    parent_id: null,
    execution_id: 1,
  },
});

const timer = (instance: string, fireAtMs: number): WorkItem => ({
  TimerFired: { instance, execution_id: 1, id: 2, fire_at_ms: fireAtMs },
});

const started = (instance: string): Event => ({
  event_id: 1,
  source_event_id: null,
  instance_id: instance,
  execution_id: 1,
  timestamp_ms: now,
  duroxide_version: "0.1.26",
  type: "OrchestrationStarted",
  name: "Orch",
  version: "1.0.0",
  input: "{}",
  parent_instance: null,
  parent_id: null,
});

const meta: ExecutionMetadata = { orchestrationName: "Orch", orchestrationVersion: "1.0.0" };

async function fetchOne(): Promise<FetchedOrchestrationItem> {
  const fetched = await provider.fetchOrchestrationItem(LOCK_MS, 0, null);
  expect(fetched, "expected an orchestration item").not.toBeNull();
  return fetched as FetchedOrchestrationItem;
}

function ackAndFetch(
  fetched: FetchedOrchestrationItem,
  events: Event[],
  orchestratorItems: WorkItem[] = [],
): Promise<FetchedOrchestrationItem | null> {
  return provider.ackOrchestrationItemAndFetchNext(
    fetched.lockToken,
    fetched.item.executionId,
    events,
    [],
    orchestratorItems,
    meta,
    [],
    LOCK_MS,
    null,
  );
}

async function historyOf(instance: string): Promise<number[]> {
  const { rows } = await store.pool.query<{ event_id: string }>(
    `SELECT event_id FROM "${store.schema}".history WHERE instance_id = $1 ORDER BY event_id`,
    [instance],
  );
  return rows.map((r) => Number(r.event_id));
}

describe("ackOrchestrationItemAndFetchNext", () => {
  it("commits the turn and returns the next ready instance under a new lock", async () => {
    await provider.enqueueForOrchestrator(start("a"), null);
    const a = await fetchOne();
    await provider.enqueueForOrchestrator(start("b"), null);

    const next = await ackAndFetch(a, [started("a")]);

    expect(next?.item.instance).toBe("b");
    expect(next?.attemptCount).toBe(1);
    expect(next?.lockToken).not.toBe(a.lockToken);
    expect(next?.item.messages).toEqual([start("b")]);
    expect(await historyOf("a")).toEqual([1]); // a's turn is committed
    // a's batch is gone and its lock released: the queue holds nothing else ready.
    expect(await provider.fetchOrchestrationItem(LOCK_MS, 0, null)).toBeNull();
  });

  it("fetches nothing and keeps the lock when the ack fails", async () => {
    await provider.enqueueForOrchestrator(start("a"), null);
    const first = await fetchOne();
    await provider.ackOrchestrationItem(first.lockToken, 1, [started("a")], [], [timer("a", T0)], meta, []);
    const a = await fetchOne(); // the timer's turn
    await provider.enqueueForOrchestrator(start("b"), null);

    // Event 1 is already stored: the history append violates uniqueness and the call rolls back.
    await expect(ackAndFetch(a, [started("a")])).rejects.toThrow();
    // An unknown token is refused the same way (no lock, nothing fetched).
    await expect(
      provider.ackOrchestrationItemAndFetchNext(
        "00000000-0000-4000-8000-000000000000",
        1,
        [],
        [],
        [],
        {},
        [],
        LOCK_MS,
        null,
      ),
    ).rejects.toThrow(/Invalid lock token/);

    // b was not fetched by either call: its first fetch is its first attempt.
    const b = await fetchOne();
    expect(b.item.instance).toBe("b");
    expect(b.attemptCount).toBe(1);
    // a's lock is still held by its token: a plain ack of the turn succeeds.
    await provider.renewOrchestrationItemLock(a.lockToken, LOCK_MS);
    await provider.ackOrchestrationItem(a.lockToken, 1, [], [], [], {}, []);
  });

  it("returns null with nothing ready, and tells the waiters when the next timer fires", async () => {
    await provider.enqueueForOrchestrator(start("a"), null);
    const a = await fetchOne();
    const before = performance.now();

    const next = await ackAndFetch(a, [started("a")], [timer("a", T0 + 60_000)]);

    expect(next).toBeNull();
    const untilNext = provider.wakeups!.learned.untilNext("orch", before);
    expect(untilNext).toBeDefined();
    // 60 s from the call's now, less the (real) time elapsed since.
    expect(untilNext!).toBeGreaterThan(50_000);
    expect(untilNext!).toBeLessThanOrEqual(60_000);
  });
});

describe("fetchOrchestrationItem with wake-ups (fetch_orchestration_item_or_wakeup)", () => {
  it("an empty fetch tells the waiters the next delayed message, or that none is pending", async () => {
    const before = performance.now();
    expect(await provider.fetchOrchestrationItem(LOCK_MS, 0, null)).toBeNull();
    expect(provider.wakeups!.learned.untilNext("orch", before)).toBe(Number.POSITIVE_INFINITY);

    await provider.enqueueForOrchestrator(start("a"), 30_000);
    const later = performance.now();
    expect(await provider.fetchOrchestrationItem(LOCK_MS, 0, null)).toBeNull();
    const untilNext = provider.wakeups!.learned.untilNext("orch", later);
    expect(untilNext!).toBeGreaterThan(20_000);
    expect(untilNext!).toBeLessThanOrEqual(30_000);
    // Nothing learned after a later moment: a waiter whose fetch began then would query instead.
    expect(provider.wakeups!.learned.untilNext("orch", performance.now() + 1)).toBeUndefined();

    now += 30_000;
    expect((await fetchOne()).item.instance).toBe("a");
  });
});

describe("on a schema not migrated to 0024 yet (a runtime upgraded ahead of its schema)", () => {
  it("fetches, and acks and fetches, through the separate calls", async () => {
    const old = await createTestSchema({ prefix: "r4_orch_ackfetch_old", toVersion: 23 });
    const behind = await PostgresProvider.create({
      pool: old.pool,
      schema: old.schema,
      checkSchema: false,
      logger: { warn() {} },
    });
    try {
      await behind.enqueueForOrchestrator(start("a"), null);
      await behind.enqueueForOrchestrator(start("b"), null);
      const a = await behind.fetchOrchestrationItem(LOCK_MS, 0, null);
      expect(a?.item.instance).toBe("a");
      const b = await behind.ackOrchestrationItemAndFetchNext(
        a!.lockToken,
        1,
        [started("a")],
        [],
        [],
        meta,
        [],
        LOCK_MS,
        null,
      );
      expect(b?.item.instance).toBe("b");
      expect(await behind.read("a")).toHaveLength(1);
    } finally {
      await behind.close();
      await old.drop();
    }
  });
});
