/**
 * Hostile surroundings of the provider: schema names built to break quoting (and the LISTEN channel
 * derived from them), lock tokens that are not the caller's, and stored rows that are not valid
 * JSON of the right shape. Each case either works or fails with the error docs/store-contract.md §3 names, and changes
 * nothing else (row-by-row compares).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { quoteSchema } from "../../src/migrate/migrations.ts";
import { PostgresProvider } from "../../src/provider/postgres-provider.ts";
import type { Event, FetchedOrchestrationItem, FetchedWorkItem, WorkItem } from "../../src/provider/types.ts";
import { wakeupChannel } from "../../src/provider/wakeups.ts";
import { Client } from "../../src/runtime/client.ts";
import { Runtime } from "../../src/runtime/runtime.ts";
import { createTestSchema, type TestSchema, testDatabaseUrl } from "../../src/testing/test-schema.ts";
import {
  activity,
  event,
  expectPermanent,
  fetchReadyOrchestrationItem,
  fetchReadyWorkItem,
  instanceRows,
  snapshot,
  startedEvent,
  startItem,
} from "./hostile-helpers.ts";

const LOCK_MS = 30_000;

let store: TestSchema;
let provider: PostgresProvider;

beforeEach(async () => {
  store = await createTestSchema({ prefix: "hostile_st" });
  provider = await PostgresProvider.create({ pool: store.pool, schema: store.schema, longPoll: false });
});

afterEach(async () => {
  await provider.close();
  await store.drop();
});

const fetchOrch = () => fetchReadyOrchestrationItem(provider, LOCK_MS);
const fetchWork = () => fetchReadyWorkItem(provider, LOCK_MS);

/** Start `instance` and commit its first turn (instance row + history), leaving nothing queued. */
async function createInstance(instance: string): Promise<void> {
  await provider.enqueueForOrchestrator(startItem(instance), null);
  const fetched = await fetchOrch();
  expect(fetched.item.instance).toBe(instance);
  await provider.ackOrchestrationItem(
    fetched.lockToken,
    1,
    [startedEvent(instance)],
    [],
    [],
    { orchestrationName: "Orch", orchestrationVersion: "1.0.0", status: "Running" },
    [],
  );
}

function poke(instance: string): WorkItem {
  return { ExternalRaised: { instance, name: "poke", data: "{}" } };
}

// ---------------------------------------------------------------------------------------------
// Schema names
// ---------------------------------------------------------------------------------------------

describe("hostile schema names", () => {
  const names: ReadonlyArray<readonly [string, (bystander: string) => string]> = [
    ["a quote and a DROP of the bystander schema", (b) => `x"; DROP SCHEMA "${b}" CASCADE; --`],
    ["semicolons, quotes and a dollar", () => `a;b;"c";'d';$1;%I`],
    ["upper case that folds onto a lower-case twin", (b) => b.toUpperCase()],
    ["unicode with emoji, RTL and combining marks", () => "схема_表_😀_שלום_e\u0301"],
    ["63 bytes of three-byte characters", () => "表".repeat(21)],
  ];

  it.each(names)(
    "%s: create({migrate:true}) works, LISTEN wakes a long poll, an orchestration completes, the bystander schema is untouched",
    async (_label, makeName) => {
      await createInstance("bystander-instance");
      const bystanderBefore = await snapshot(store.pool, store.schema);
      const schema = makeName(store.schema);
      expect(Buffer.byteLength(schema, "utf8")).toBeLessThanOrEqual(63);
      const url = testDatabaseUrl();
      const hostile = await PostgresProvider.create({
        connectionString: url,
        schema,
        migrate: true,
        poolSize: 4,
      });
      const runtime = new Runtime(hostile, {
        dispatcherMinPollIntervalMs: 10,
        dispatcherLongPollTimeoutMs: 200,
        logLevel: "error",
      });
      try {
        // The channel the listener LISTENs on is the one the schema's triggers NOTIFY.
        const { rows } = await store.pool.query<{ orch: string; work: string }>(
          `SELECT ${quoteSchema(schema)}.wakeup_channel('orch') AS orch, ${quoteSchema(schema)}.wakeup_channel('work') AS work`,
        );
        expect(rows[0]).toEqual({ orch: wakeupChannel(schema, "orch"), work: wakeupChannel(schema, "work") });

        // A long poll with nothing to do sleeps up to 5 s between checks unless NOTIFY wakes it.
        await hostile.fetchWorkItem(LOCK_MS, 300, null, { kind: "any" }); // connects the listener
        const began = Date.now();
        const waiting = hostile.fetchWorkItem(LOCK_MS, 20_000, null, { kind: "any" });
        setTimeout(() => void hostile.enqueueForWorker(activity("woken", 1)), 300);
        const woken = await waiting;
        expect(woken?.item).toEqual(activity("woken", 1));
        expect(Date.now() - began, "woken by NOTIFY, not by the 5 s re-check").toBeLessThan(3_000);
        await hostile.ackWorkItem((woken as FetchedWorkItem).lockToken, null);

        runtime.registerActivity("Echo", async (_ctx, text: string) => `echo ${text}`);
        runtime.registerOrchestration("Round", function* (ctx, text: string) {
          ctx.setCustomStatus(`status ${text}`);
          ctx.setValue("key", text);
          const echoed: string = yield ctx.scheduleActivity("Echo", text);
          return echoed;
        });
        await runtime.start();
        const client = new Client(hostile);
        await client.startOrchestration(`inst ${schema}`, "Round", schema);
        const done = await client.waitForOrchestration(`inst ${schema}`, 20_000);
        expect(done).toMatchObject({
          status: "Completed",
          output: `echo ${schema}`,
          customStatus: `status ${schema}`,
        });
        expect(await hostile.getKvValue(`inst ${schema}`, "key")).toBe(schema);
        const { rows: ns } = await store.pool.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [
          schema,
        ]);
        expect(ns).toHaveLength(1);
      } finally {
        await runtime.shutdown(2_000);
        await hostile.close();
        await store.pool.query(`DROP SCHEMA IF EXISTS ${quoteSchema(schema)} CASCADE`);
      }
      expect(await snapshot(store.pool, store.schema), "bystander schema rows").toEqual(bystanderBefore);
      expect(await provider.read("bystander-instance")).toEqual([startedEvent("bystander-instance")]);
    },
  );

  it.each([
    ["64 ASCII bytes", "s".repeat(64)],
    ["16 four-byte emoji (64 bytes)", "😀".repeat(16)],
    ["22 three-byte characters (66 bytes)", "表".repeat(22)],
  ])(
    "refuses %s at PostgresProvider.create with a clear error and creates no schema",
    async (_label, schema) => {
      const error = await PostgresProvider.create({
        connectionString: testDatabaseUrl(),
        schema,
        migrate: true,
      }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(/longer than 63 bytes/);
      // Neither the name nor the 63-byte prefix Postgres would have truncated it to exists.
      const truncated = Buffer.from(schema, "utf8")
        .subarray(0, 63)
        .toString("utf8")
        .replace(/\uFFFD+$/, "");
      const { rows } = await store.pool.query("SELECT 1 FROM pg_namespace WHERE nspname = ANY($1)", [
        [schema, truncated],
      ]);
      expect(rows).toHaveLength(0);
    },
  );
});

// ---------------------------------------------------------------------------------------------
// Lock tokens
// ---------------------------------------------------------------------------------------------

describe("lock tokens that are not the caller's", () => {
  interface Held {
    orchA: FetchedOrchestrationItem;
    orchB: FetchedOrchestrationItem;
    workA: FetchedWorkItem;
    workB: FetchedWorkItem;
  }

  /** Instances A and B each with a locked orchestration turn and a locked work item. */
  async function holdLocks(): Promise<Held> {
    await createInstance("A");
    await createInstance("B");
    await provider.enqueueForOrchestrator(poke("A"), null);
    await provider.enqueueForOrchestrator(poke("B"), null);
    const first = await fetchOrch();
    const second = await fetchOrch();
    const [orchA, orchB] = first.item.instance === "A" ? [first, second] : [second, first];
    await provider.enqueueForWorker(activity("A", 2));
    await provider.enqueueForWorker(activity("B", 2));
    const workA = await fetchWork();
    const workB = await fetchWork();
    expect([orchB.item.instance, workA.item, workB.item]).toEqual(["B", activity("A", 2), activity("B", 2)]);
    return { orchA, orchB, workA, workB };
  }

  /** Every token-taking method called with `token`: each must fail permanently. */
  function allSix(token: string, instance = "A"): Array<readonly [string, () => Promise<unknown>]> {
    const completion: WorkItem = { ActivityCompleted: { instance, execution_id: 1, id: 2, result: "1" } };
    return [
      [
        "ackOrchestrationItem",
        () =>
          provider.ackOrchestrationItem(
            token,
            1,
            [event(instance, 2, { type: "ActivityScheduled", name: "X", input: "{}" })],
            [activity(instance, 2)],
            [poke("C")],
            { status: "Completed", output: "x" },
            [],
          ),
      ],
      ["abandonOrchestrationItem", () => provider.abandonOrchestrationItem(token, 1_000, true)],
      ["renewOrchestrationItemLock", () => provider.renewOrchestrationItemLock(token, 60_000)],
      ["ackWorkItem", () => provider.ackWorkItem(token, completion)],
      ["abandonWorkItem", () => provider.abandonWorkItem(token, 1_000, true)],
      ["renewWorkItemLock", () => provider.renewWorkItemLock(token, 60_000)],
    ];
  }

  async function expectAllRefused(calls: Array<readonly [string, () => Promise<unknown>]>): Promise<void> {
    const before = await snapshot(store.pool, store.schema);
    for (const [method, call] of calls) {
      const error = await expectPermanent(call(), /Invalid lock token/);
      expect(error.message, method).toMatch(/Invalid lock token/);
      expect(await snapshot(store.pool, store.schema), `${method} changed nothing`).toEqual(before);
    }
  }

  it.each([
    ["a random UUID", "3f1a7e8e-5c43-4f4e-9a8f-1f2e3d4c5b6a"],
    ["an empty string", ""],
    ["a non-UUID string", "not-a-uuid"],
    ["an SQL fragment", "' OR '1'='1"],
    ["a LIKE pattern", "%"],
    ["a string with NUL", "lock\u0000token"],
    ["a string with a lone surrogate", "lock\uD800"],
  ])(
    "%s fails ack, abandon and renew of both queues with Invalid lock token and changes nothing",
    async (_l, token) => {
      await holdLocks();
      await expectAllRefused(allSix(token));
    },
  );

  it("an orchestration token fails every work item method, and a work item token every orchestration method", async () => {
    const held = await holdLocks();
    await expectAllRefused(allSix(held.orchA.lockToken).slice(3));
    await expectAllRefused(allSix(held.workA.lockToken).slice(0, 3));
  });

  it("another instance's released tokens fail every method and change nothing", async () => {
    const held = await holdLocks();
    await provider.ackOrchestrationItem(held.orchB.lockToken, 1, [], [], [], {}, []);
    await provider.ackWorkItem(held.workB.lockToken, null);
    // B's spent tokens, presented with A's payloads.
    await expectAllRefused(allSix(held.orchB.lockToken, "A").slice(0, 3));
    await expectAllRefused(allSix(held.workB.lockToken, "A").slice(3));
  });

  it("B's live token acks B's turn even with A's events: the instance comes from the lock, A is untouched", async () => {
    const held = await holdLocks();
    const aBefore = await instanceRows(store.pool, store.schema, "A");
    const stray = event("A", 2, { type: "ActivityScheduled", name: "X", input: "{}" });
    await provider.ackOrchestrationItem(held.orchB.lockToken, 1, [stray], [], [], {}, []);
    expect(await instanceRows(store.pool, store.schema, "A"), "A's rows").toEqual(aBefore);
    expect(await provider.read("B")).toEqual([startedEvent("B"), stray]);
    // A's own lock still works.
    await provider.renewOrchestrationItemLock(held.orchA.lockToken, LOCK_MS);
    await provider.ackOrchestrationItem(held.orchA.lockToken, 1, [], [], [], {}, []);
  });
});

// ---------------------------------------------------------------------------------------------
// Malformed stored rows
// ---------------------------------------------------------------------------------------------

function eventText(overrides: Record<string, unknown>): string {
  return JSON.stringify({ ...startedEvent("bad"), ...overrides });
}

describe("malformed stored rows", () => {
  const q = () => quoteSchema(store.schema);

  it.each([
    ["an empty string", ""],
    ["JSON null", "null"],
    ["a JSON array", "[]"],
    ["a JSON string", '"OrchestrationStarted"'],
    ["truncated JSON of a real event", eventText({}).slice(0, 40)],
    ["an event id given as a string", eventText({ event_id: "1" })],
    ["a negative execution id", eventText({ execution_id: -1 })],
    ["an unknown event type", eventText({ type: "FromTheFuture" })],
    ["a missing required field", eventText({ name: undefined })],
    ["a field of the wrong type", eventText({ input: { nested: true } })],
  ])(
    "history row holding %s: fetch reports historyError, reads fail permanently, others go on",
    async (_l, text) => {
      await createInstance("bad");
      await createInstance("good");
      await store.pool.query(`UPDATE ${q()}.history SET event_data = $1 WHERE instance_id = 'bad'`, [text]);
      await provider.enqueueForOrchestrator(poke("bad"), null);
      await provider.enqueueForOrchestrator(poke("good"), null);
      const goodBefore = await instanceRows(store.pool, store.schema, "good");

      const bad = await fetchOrch();
      expect(bad.item.instance).toBe("bad");
      expect(bad.item.historyError).toMatch(/history of instance bad cannot be decoded/);
      expect(bad.item.history).toEqual([]);
      const good = await fetchOrch();
      expect(good.item.instance).toBe("good");
      expect(good.item.historyError).toBeNull();
      expect(good.item.history).toEqual([startedEvent("good")]);

      await expectPermanent(provider.read("bad"), /history event 1 of instance bad cannot be decoded/);
      await expectPermanent(provider.readWithExecution("bad", 1), /cannot be decoded/);
      await expectPermanent(provider.asManagementCapability().readHistory("bad"), /cannot be decoded/);
      const { rows } = await store.pool.query(
        `SELECT event_data FROM ${q()}.history WHERE instance_id = 'bad'`,
      );
      expect(rows, "the corrupt row is kept as it was").toEqual([{ event_data: text }]);

      await provider.ackOrchestrationItem(good.lockToken, 1, [], [], [], {}, []);
      const goodAfter = await instanceRows(store.pool, store.schema, "good");
      expect(goodAfter.history).toEqual(goodBefore.history);
      expect(await provider.read("good")).toEqual([startedEvent("good")]);
    },
  );

  it.each([
    ["text that is not JSON", "not json{"],
    ["a field of the wrong type", '{"ExternalRaised":{"instance":"bad","name":"n","data":5}}'],
    ["missing fields", '{"ExternalRaised":{"instance":"bad"}}'],
    ["two variant keys", '{"ExternalRaised":{"instance":"bad","name":"n","data":""},"QueueMessage":{}}'],
    ["a bare variant name", '"ExternalRaised"'],
  ])(
    "orchestrator queue row holding %s: the turn reports historyError, other instances still come through",
    async (_l, text) => {
      await createInstance("bad");
      await createInstance("good");
      await provider.enqueueForOrchestrator(poke("bad"), null);
      await store.pool.query(
        `UPDATE ${q()}.orchestrator_queue SET work_item = $1 WHERE instance_id = 'bad'`,
        [text],
      );
      await provider.enqueueForOrchestrator(poke("good"), null);

      const bad = await fetchOrch();
      expect(bad.item.instance).toBe("bad");
      expect(bad.item.historyError).toMatch(/message 1 of the batch \(ExternalRaised\) cannot be decoded/);
      expect(bad.item.messages).toEqual([]);
      const good = await fetchOrch();
      expect(good.item.instance).toBe("good");
      expect(good.item.historyError).toBeNull();
      expect(good.item.messages).toEqual([poke("good")]);
      const { rows } = await store.pool.query(
        `SELECT work_item FROM ${q()}.orchestrator_queue WHERE instance_id = 'bad'`,
      );
      expect(rows, "the corrupt row is kept for the poison path").toEqual([{ work_item: text }]);
    },
  );

  it("a worker queue row that is not a work item fails that fetch permanently; the next fetch gets the next item", async () => {
    await provider.enqueueForWorker(activity("bad", 1));
    await provider.enqueueForWorker(activity("good", 1));
    await store.pool.query(
      `UPDATE ${q()}.worker_queue SET work_item = '{"ActivityExecute":{"id":"1"}}' WHERE instance_id = 'bad'`,
    );

    await expectPermanent(
      provider.fetchWorkItem(LOCK_MS, 0, null, { kind: "any" }),
      /stored work item cannot be decoded/,
    );
    const good = await fetchWork();
    expect(good.item).toEqual(activity("good", 1));
    await provider.ackWorkItem(good.lockToken, {
      ActivityCompleted: { instance: "good", execution_id: 1, id: 1, result: "1" },
    });
    expect(
      await provider.fetchWorkItem(LOCK_MS, 0, null, { kind: "any" }),
      "the bad row stays locked",
    ).toBeNull();
    const { rows } = await store.pool.query<{ attempt_count: number; locked: boolean }>(
      `SELECT attempt_count, lock_token IS NOT NULL AS locked FROM ${q()}.worker_queue`,
    );
    expect(rows).toEqual([{ attempt_count: 1, locked: true }]);
  });

  it("malformed JSON in KV values and custom status is opaque to the provider: returned verbatim everywhere", async () => {
    await provider.enqueueForOrchestrator(startItem("kv"), null);
    const first = await fetchOrch();
    const delta: Event[] = [
      startedEvent("kv"),
      event("kv", 2, { type: "CustomStatusUpdated", status: '{"ok":true}' }),
      event("kv", 3, { type: "KeyValueSet", key: "k", value: '{"ok":true}', last_updated_at_ms: 3 }),
    ];
    await provider.ackOrchestrationItem(
      first.lockToken,
      1,
      delta,
      [],
      [],
      {
        orchestrationName: "Orch",
        orchestrationVersion: "1.0.0",
        status: "Completed",
        output: "1",
      },
      [],
    );
    await createInstance("other");
    const otherBefore = await instanceRows(store.pool, store.schema, "other");
    await store.pool.query(`UPDATE ${q()}.kv_store SET value = 'not json{' WHERE instance_id = 'kv'`);
    await store.pool.query(`UPDATE ${q()}.instances SET custom_status = '{"broken' WHERE instance_id = 'kv'`);

    expect(await provider.getKvValue("kv", "k")).toBe("not json{");
    expect(await provider.getKvAllValues("kv")).toEqual(new Map([["k", "not json{"]]));
    expect(await provider.getCustomStatus("kv", 0)).toEqual({ customStatus: '{"broken', version: 1 });
    await provider.enqueueForOrchestrator(poke("kv"), null);
    const next = await fetchOrch();
    expect(next.item.historyError).toBeNull();
    expect(next.item.kvSnapshot).toEqual(new Map([["k", { value: "not json{", lastUpdatedAtMs: 3 }]]));
    expect(await provider.read("kv")).toEqual(delta);
    expect(await instanceRows(store.pool, store.schema, "other")).toEqual(otherBefore);
  });
});
