/**
 * ackWorkItemAndFetchNext (ack_and_fetch_work_item): one call that acks an activity exactly as
 * ackWorkItem does and then fetches exactly as fetchWorkItem does; a failed ack fetches nothing.
 * A fake clock drives time, so nothing here sleeps.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PostgresProvider } from "../../src/provider/postgres-provider.ts";
import type { FetchedWorkItem, TagFilter, WorkItem } from "../../src/provider/types.ts";
import { createTestSchema, type TestSchema } from "../../src/testing/test-schema.ts";
import { activityCompleted, activityExecute, payloadOf, startItem } from "../validation/helpers.ts";

const T0 = 1_700_000_000_000;
const LOCK_MS = 5_000;
const ANY: TagFilter = { kind: "any" };
const DEFAULT_ONLY: TagFilter = { kind: "defaultOnly" };

let store: TestSchema;
let provider: PostgresProvider;
let now = T0;

beforeAll(async () => {
  store = await createTestSchema({ prefix: "r4_ackfetch" });
  provider = await PostgresProvider.create({
    pool: store.pool,
    schema: store.schema,
    longPoll: false,
    clock: () => now,
  });
});

afterAll(async () => {
  await provider.close();
  await store.drop();
});

beforeEach(async () => {
  now = T0;
  await store.pool.query(`DELETE FROM ${store.schema}.worker_queue`);
  await store.pool.query(`DELETE FROM ${store.schema}.orchestrator_queue`);
  await store.pool.query(`DELETE FROM ${store.schema}.sessions`);
});

async function enqueue(...items: WorkItem[]): Promise<void> {
  for (const item of items) await provider.enqueueForWorker(item);
}

async function fetchOne(tagFilter: TagFilter = ANY): Promise<FetchedWorkItem> {
  const fetched = await provider.fetchWorkItem(LOCK_MS, 0, null, tagFilter);
  if (!fetched) throw new Error("expected a work item");
  return fetched;
}

async function workerRows(): Promise<
  { activity_id: string; lock_token: string | null; attempt_count: number }[]
> {
  const { rows } = await store.pool.query(
    `SELECT activity_id::text, lock_token, attempt_count FROM ${store.schema}.worker_queue ORDER BY id`,
  );
  return rows;
}

async function orchestratorKinds(): Promise<string[]> {
  const { rows } = await store.pool.query(`SELECT kind FROM ${store.schema}.orchestrator_queue ORDER BY id`);
  return rows.map((r) => r.kind as string);
}

describe("ackWorkItemAndFetchNext", () => {
  it("acks the completion and returns the next item under a fresh lock, counting its attempt", async () => {
    await enqueue(activityExecute("i1", 1, "A"), activityExecute("i1", 2, "B"));
    const first = await fetchOne();
    const next = await provider.ackWorkItemAndFetchNext(
      first.lockToken,
      activityCompleted("i1", 1),
      LOCK_MS,
      null,
      ANY,
    );

    expect(next).not.toBeNull();
    expect(payloadOf(next!.item, "ActivityExecute").id).toBe(2);
    expect(next!.attemptCount).toBe(1);
    expect(next!.lockToken).not.toBe(first.lockToken);
    // The first row is gone, its completion is on the orchestrator queue, the second is leased.
    expect(await workerRows()).toEqual([{ activity_id: "2", lock_token: next!.lockToken, attempt_count: 1 }]);
    expect(await orchestratorKinds()).toEqual(["ActivityCompleted"]);
    // The acked token is spent: a second ack fails like ackWorkItem's.
    await expect(provider.ackWorkItem(first.lockToken, null)).rejects.toThrow(/Invalid lock token/);
    // The fetched lock is a real one: it can be acked.
    await provider.ackWorkItem(next!.lockToken, activityCompleted("i1", 2));
    expect(await workerRows()).toEqual([]);
  });

  it("returns null when nothing else is available, with the ack committed", async () => {
    await enqueue(activityExecute("i1", 1, "A"));
    const first = await fetchOne();
    expect(await provider.ackWorkItemAndFetchNext(first.lockToken, null, LOCK_MS, null, ANY)).toBeNull();
    expect(await workerRows()).toEqual([]);
    expect(await orchestratorKinds()).toEqual([]); // a null completion enqueues nothing
  });

  it("fails an expired or unknown token like ackWorkItem and fetches nothing", async () => {
    await enqueue(activityExecute("i1", 1, "A"), activityExecute("i1", 2, "B"));
    const first = await fetchOne();
    now += LOCK_MS + 1; // first's lease expired
    await expect(
      provider.ackWorkItemAndFetchNext(first.lockToken, activityCompleted("i1", 1), LOCK_MS, null, ANY),
    ).rejects.toMatchObject({ retryable: false, message: expect.stringMatching(/Invalid lock token/) });
    await expect(
      provider.ackWorkItemAndFetchNext("00000000-0000-0000-0000-000000000000", null, LOCK_MS, null, ANY),
    ).rejects.toThrow(/Invalid lock token/);
    // Nothing was written: no completion, item 2 untouched (not leased, attempt not counted).
    expect(await orchestratorKinds()).toEqual([]);
    expect(await workerRows()).toEqual([
      { activity_id: "1", lock_token: first.lockToken, attempt_count: 1 },
      { activity_id: "2", lock_token: null, attempt_count: 0 },
    ]);
  });

  it("rejects a completion that is not ActivityCompleted/ActivityFailed before touching the store", async () => {
    await enqueue(activityExecute("i1", 1, "A"), activityExecute("i1", 2, "B"));
    const first = await fetchOne();
    await expect(
      provider.ackWorkItemAndFetchNext(first.lockToken, startItem("i1"), LOCK_MS, null, ANY),
    ).rejects.toMatchObject({ retryable: false, operation: "ack_and_fetch_work_item" });
    // The lock still holds: a proper ack succeeds.
    await provider.ackWorkItem(first.lockToken, null);
    expect((await workerRows()).map((r) => r.activity_id)).toEqual(["2"]);
  });

  it("fetches with the given tag filter", async () => {
    await enqueue(activityExecute("i1", 1, "A"), activityExecute("i1", 2, "Gpu", { tag: "gpu" }));
    await enqueue(activityExecute("i1", 3, "Plain"));
    const first = await fetchOne(DEFAULT_ONLY); // item 1
    const gpu: TagFilter = { kind: "tags", tags: new Set(["gpu"]) };
    const next = await provider.ackWorkItemAndFetchNext(first.lockToken, null, LOCK_MS, null, gpu);
    expect(payloadOf(next!.item, "ActivityExecute").id).toBe(2);
    // A `none` filter (an orchestrator-only node) acks and fetches nothing.
    const last = await provider.ackWorkItemAndFetchNext(next!.lockToken, null, LOCK_MS, null, {
      kind: "none",
    });
    expect(last).toBeNull();
    expect((await workerRows()).map((r) => [r.activity_id, r.lock_token])).toEqual([["3", null]]);
  });

  it("applies the session rules: no session config skips session items, an owner claims the session", async () => {
    await enqueue(activityExecute("i1", 1, "A"), activityExecute("i1", 2, "S", { sessionId: "s1" }));
    const first = await fetchOne();
    expect(await provider.ackWorkItemAndFetchNext(first.lockToken, null, LOCK_MS, null, ANY)).toBeNull();

    await enqueue(activityExecute("i1", 3, "A"));
    const third = await fetchOne();
    const session = { ownerId: "owner-a", lockTimeoutMs: 60_000 };
    const next = await provider.ackWorkItemAndFetchNext(third.lockToken, null, LOCK_MS, session, ANY);
    expect(payloadOf(next!.item, "ActivityExecute").session_id).toBe("s1");
    const { rows } = await store.pool.query(`SELECT session_id, owner_id FROM ${store.schema}.sessions`);
    expect(rows).toEqual([{ session_id: "s1", owner_id: "owner-a" }]);
  });

  it("confirms the lease when the call took long (lease on handover)", async () => {
    await enqueue(activityExecute("i1", 1, "A"), activityExecute("i1", 2, "B"));
    const first = await fetchOne();
    // The clock moves past the new lease while the call is in flight: the lease is restarted
    // for a full timeout from the late "now" before the item is handed out.
    const late = now + LOCK_MS + 1;
    let armed = false;
    let calls = 0;
    const jumpy = await PostgresProvider.create({
      pool: store.pool,
      schema: store.schema,
      longPoll: false,
      clock: () => (!armed || calls++ === 0 ? now : late),
    });
    armed = true;
    let next: FetchedWorkItem | null;
    try {
      next = await jumpy.ackWorkItemAndFetchNext(first.lockToken, null, LOCK_MS, null, ANY);
    } finally {
      await jumpy.close();
    }
    expect(payloadOf(next?.item, "ActivityExecute").id).toBe(2);
    const { rows } = await store.pool.query(
      `SELECT locked_until::text FROM ${store.schema}.worker_queue WHERE lock_token = $1`,
      [next?.lockToken],
    );
    expect(rows).toEqual([{ locked_until: String(late + LOCK_MS) }]);
  });
});
