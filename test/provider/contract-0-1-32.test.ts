/**
 * The provider side of duroxide 0.1.32 (docs/store-contract.md §2, §4.5, §4.3 step 7): exact
 * round trips of stored text, leases that renewal never shortens, and completed_at for
 * continued-as-new executions (migration 0017). A fake clock drives the leases; nothing sleeps.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { migrate } from "../../src/migrate/migrations.ts";
import { PostgresProvider } from "../../src/provider/postgres-provider.ts";
import type { FetchedOrchestrationItem, WorkItem } from "../../src/provider/types.ts";
import { createTestSchema, type TestSchema } from "../../src/testing/test-schema.ts";

const T0 = 1_700_000_000_000;
const LOCK_MS = 5_000;

let store: TestSchema;
let provider: PostgresProvider | undefined;
let now = T0;

async function open(): Promise<PostgresProvider> {
  store = await createTestSchema({ prefix: "h2_contract" });
  provider = await PostgresProvider.create({
    pool: store.pool,
    schema: store.schema,
    longPoll: false,
    clock: () => now,
  });
  return provider;
}

beforeEach(() => {
  now = T0;
  provider = undefined;
});

afterEach(async () => {
  await provider?.close();
  await store.drop();
});

async function fetchOne(lockMs = LOCK_MS): Promise<FetchedOrchestrationItem> {
  const fetched = await (provider as PostgresProvider).fetchOrchestrationItem(lockMs, 0, null);
  expect(fetched, "expected an orchestration item").not.toBeNull();
  return fetched as FetchedOrchestrationItem;
}

/**
 * Events as duroxide 0.1.32 writes them (serde field order), plus one with another key order and a
 * field from a newer engine. The API takes objects, so "the text" is what JSON.stringify writes.
 */
const STORED_EVENTS = [
  '{"event_id":1,"source_event_id":null,"instance_id":"p::sub::4","execution_id":1,"timestamp_ms":1731300000200,"duroxide_version":"0.1.30","type":"OrchestrationStarted","name":"Ship","version":"1.0.0","input":"{}","parent_instance":"p","parent_id":4,"parent_execution_id":2}',
  '{"event_id":2,"source_event_id":null,"instance_id":"p::sub::4","execution_id":1,"timestamp_ms":1731300000201,"duroxide_version":"0.1.32","type":"ActivityScheduled","name":"A","input":"1.50","tag":"gpu"}',
  '{"type":"ActivityCompleted","event_id":3,"source_event_id":2,"instance_id":"p::sub::4","execution_id":1,"timestamp_ms":1731300000202,"duroxide_version":"0.1.32","result":"\\"ok\\"","from_a_newer_engine":{"x":[1,2.5,-0.001]}}',
];

/** Work items with the 0.1.30 parent fields, as text. */
const STORED_ITEMS = [
  '{"StartOrchestration":{"instance":"p::sub::4","orchestration":"Ship","input":"{}","version":null,"parent_instance":"p","parent_id":4,"parent_execution_id":2,"execution_id":1}}',
  '{"ContinueAsNew":{"instance":"p::sub::4","orchestration":"Ship","input":"{}","version":"1.0.0","parent_instance":"p","parent_id":4,"parent_execution_id":2,"carry_forward_events":[["q","x"]]}}',
];

describe("exact round trip (duroxide ≥ 0.1.31)", () => {
  let provider: PostgresProvider;
  beforeEach(async () => {
    provider = await open();
  });

  it("returns acked events byte for byte from read, readWithExecution, admin reads and fetch", async () => {
    const instance = "p::sub::4";
    const events = STORED_EVENTS.map((text) => JSON.parse(text));
    await provider.enqueueForOrchestrator(JSON.parse(STORED_ITEMS[0] as string), null);
    const first = await fetchOne();
    await provider.ackOrchestrationItem(
      first.lockToken,
      1,
      events,
      [],
      [],
      { orchestrationName: "Ship", orchestrationVersion: "1.0.0" },
      [],
    );

    const rows = await store.pool.query<{ event_data: string }>(
      `SELECT event_data FROM "${store.schema}".history ORDER BY event_id`,
    );
    expect(
      rows.rows.map((r) => r.event_data),
      "stored verbatim",
    ).toEqual(STORED_EVENTS);

    const admin = provider.asManagementCapability();
    const reads = {
      read: await provider.read(instance),
      readWithExecution: await provider.readWithExecution(instance, 1),
      readHistory: await admin?.readHistory(instance),
      readHistoryWithExecutionId: await admin?.readHistoryWithExecutionId(instance, 1),
    };
    for (const [path, history] of Object.entries(reads)) {
      expect(
        history?.map((e) => JSON.stringify(e)),
        path,
      ).toEqual(STORED_EVENTS);
    }

    await provider.enqueueForOrchestrator({ ExternalRaised: { instance, name: "wake", data: "" } }, null);
    const fetched = await fetchOne();
    expect(
      fetched.item.history.map((e) => JSON.stringify(e)),
      "fetch",
    ).toEqual(STORED_EVENTS);
    expect(fetched.item.history[0]?.duroxide_version, "no restamping on fetch").toBe("0.1.30");
  });

  it("returns work items with the 0.1.30 parent fields byte for byte", async () => {
    for (const text of STORED_ITEMS) await provider.enqueueForOrchestrator(JSON.parse(text), null);
    const fetched = await fetchOne();
    expect(fetched.item.messages.map((m) => JSON.stringify(m))).toEqual(STORED_ITEMS);
    const [start, can] = fetched.item.messages as [WorkItem, WorkItem];
    expect(start).toMatchObject({ StartOrchestration: { parent_execution_id: 2 } });
    expect(can).toMatchObject({
      ContinueAsNew: { parent_instance: "p", parent_id: 4, parent_execution_id: 2 },
    });
  });
});

describe("renewal never shortens a live lease", () => {
  let provider: PostgresProvider;
  beforeEach(async () => {
    provider = await open();
  });

  it("keeps the later deadline of an orchestration lock", async () => {
    await provider.enqueueForOrchestrator({ QueueMessage: { instance: "a", name: "q", data: "" } }, null);
    await provider.enqueueForOrchestrator(
      {
        StartOrchestration: {
          instance: "a",
          orchestration: "O",
          input: "",
          version: "1.0.0",
          parent_instance: null,
          parent_id: null,
          execution_id: 1,
        },
      },
      null,
    );
    const fetched = await fetchOne(LOCK_MS);
    now += 100;
    await provider.renewOrchestrationItemLock(fetched.lockToken, 500);
    const [lock] = (
      await store.pool.query<{ locked_until: string }>(
        `SELECT locked_until FROM "${store.schema}".instance_locks`,
      )
    ).rows;
    expect(Number(lock?.locked_until)).toBe(T0 + LOCK_MS);
    now = T0 + LOCK_MS - 1;
    expect(await provider.fetchOrchestrationItem(LOCK_MS, 0, null)).toBeNull();
    // A longer renewal still extends it.
    await provider.renewOrchestrationItemLock(fetched.lockToken, 10_000);
    now += 9_999;
    expect(await provider.fetchOrchestrationItem(LOCK_MS, 0, null)).toBeNull();
    now += 1;
    expect(await provider.fetchOrchestrationItem(LOCK_MS, 0, null)).not.toBeNull();
  });

  it("keeps the later deadline of a work item lock", async () => {
    await provider.enqueueForWorker({
      ActivityExecute: { instance: "a", execution_id: 1, id: 2, name: "A", input: "" },
    });
    const fetched = await provider.fetchWorkItem(LOCK_MS, 0, null, { kind: "defaultOnly" });
    expect(fetched).not.toBeNull();
    now += 100;
    await provider.renewWorkItemLock(fetched?.lockToken as string, 500);
    now = T0 + LOCK_MS - 1;
    expect(await provider.fetchWorkItem(LOCK_MS, 0, null, { kind: "defaultOnly" })).toBeNull();
    now += 1;
    expect(await provider.fetchWorkItem(LOCK_MS, 0, null, { kind: "defaultOnly" })).not.toBeNull();
  });
});

describe("migration 0017: completed_at of ContinuedAsNew executions", () => {
  it("backfills a missing completed_at from the OrchestrationContinuedAsNew row, else the last event, else the start", async () => {
    store = await createTestSchema({ prefix: "h2_contract", toVersion: 16 });
    const q = (sql: string) => store.pool.query(sql.replaceAll("$s", `"${store.schema}"`));
    await q(`INSERT INTO $s.executions (instance_id, execution_id, status, started_at_ms, completed_at_ms) VALUES
               ('a', 1, 'ContinuedAsNew', 100, NULL), ('a', 2, 'Running', 900, NULL),
               ('b', 1, 'ContinuedAsNew', 200, NULL), ('c', 1, 'ContinuedAsNew', 300, NULL),
               ('d', 1, 'ContinuedAsNew', 400, 450), ('e', 1, 'Completed', 500, 550)`);
    await q(`INSERT INTO $s.history (instance_id, execution_id, event_id, event_type, event_data, created_at_ms) VALUES
               ('a', 1, 1, 'OrchestrationStarted', '{"garbage":true}', 110),
               ('a', 1, 2, 'OrchestrationContinuedAsNew', 'not json', 120),
               ('a', 1, 3, 'ActivityCompleted', '{}', 130),
               ('b', 1, 1, 'OrchestrationStarted', '{}', 210)`);
    await migrate(store.pool, store.schema);
    const result = await q(
      "SELECT instance_id, execution_id, completed_at_ms::int AS c FROM $s.executions ORDER BY 1, 2",
    );
    expect(result.rows).toEqual([
      { instance_id: "a", execution_id: "1", c: 120 },
      { instance_id: "a", execution_id: "2", c: null },
      { instance_id: "b", execution_id: "1", c: 210 },
      { instance_id: "c", execution_id: "1", c: 300 },
      { instance_id: "d", execution_id: "1", c: 450 },
      { instance_id: "e", execution_id: "1", c: 550 },
    ]);
  });
});
