/**
 * ack_orchestration_item(p_lock_token, p_now_ms, p_turn json) called directly: the turn document is
 * read by name, extra keys are ignored, absent ones read as NULL, payload texts are stored byte for
 * byte (a \u0000 escape included), and a document it cannot read fails the whole ack, keeping the
 * lock. The signature is the three parameters, whatever the document holds.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { quoteSchema } from "../../src/migrate/migrations.ts";
import { PostgresProvider } from "../../src/provider/postgres-provider.ts";
import { createTestSchema, type TestSchema } from "../../src/testing/test-schema.ts";

const NOW = 1_700_000_000_000;

let store: TestSchema;
let provider: PostgresProvider;
let s: string;
let counter = 0;

beforeAll(async () => {
  store = await createTestSchema({ prefix: "ack_doc" });
  provider = await PostgresProvider.create({ pool: store.pool, schema: store.schema, longPoll: false });
  s = quoteSchema(store.schema);
});

afterAll(async () => {
  await provider.close();
  await store.drop();
});

let instance: string;
let token: string;

/** A fresh instance with a start in its queue, fetched: its lock token is ours. */
beforeEach(async () => {
  instance = `i${++counter}`;
  await provider.enqueueForOrchestrator(
    {
      StartOrchestration: {
        instance,
        orchestration: "Orch",
        input: "{}",
        version: "1.0.0",
        parent_instance: null,
        parent_id: null,
        execution_id: 1,
      },
    },
    null,
  );
  const fetched = await provider.fetchOrchestrationItem(30_000, 0, null);
  expect(fetched?.item.instance).toBe(instance);
  token = fetched!.lockToken;
});

async function ack(turn: unknown): Promise<void> {
  await store.pool.query(`SELECT ${s}.ack_orchestration_item($1, $2, $3)`, [
    token,
    NOW,
    typeof turn === "string" ? turn : JSON.stringify(turn),
  ]);
}

async function one<T>(sql: string, params: unknown[] = []): Promise<T | undefined> {
  const { rows } = await store.pool.query(sql.replaceAll("$s.", `${s}.`), params);
  return rows[0] as T | undefined;
}

/** An event text as the codec writes it, but spaced and ordered as no re-serialisation would keep. */
const eventText = (id: number) =>
  `{"type":"ExternalEvent",  "event_id":${id},"source_event_id":null,"instance_id":"x","execution_id":1,` +
  `"timestamp_ms":1.0e0,"duroxide_version":"0.1.32","name":"e\\u0000\\ud83d\\ude00","data":"\\"q\\"","z":{"b":1,"a":2}}`;

describe("the turn document", () => {
  it("is the function's only payload parameter", async () => {
    const row = await one<{ args: string }>(
      `SELECT pg_get_function_identity_arguments(p.oid) AS args FROM pg_proc p
        WHERE p.pronamespace = $1::regnamespace AND p.proname = 'ack_orchestration_item'`,
      [s],
    );
    expect(row?.args).toBe("p_lock_token text, p_now_ms bigint, p_turn json");
  });

  it("stores event and work item texts byte for byte, \\u0000 escapes and key order included", async () => {
    const work = `{"ActivityExecute":{"instance":"${instance}","execution_id":1,"id":2,"name":"A\\u0000","input":"{ }"}}`;
    await ack({
      execution_id: 1,
      orchestration_name: "Orch",
      orchestration_version: "1.0.0",
      events: [
        { event_id: 1, event_type: "ExternalEvent", event_data: eventText(1) },
        { event_id: 2, event_type: "ExternalEvent", event_data: eventText(2) },
      ],
      worker_items: [{ work_item: work, instance_id: instance, execution_id: 1, activity_id: 2 }],
    });
    const { rows } = await store.pool.query(
      `SELECT event_id, event_data FROM ${s}.history WHERE instance_id = $1 ORDER BY event_id`,
      [instance],
    );
    expect(rows).toEqual([
      { event_id: "1", event_data: eventText(1) },
      { event_id: "2", event_data: eventText(2) },
    ]);
    const queued = await one<{ work_item: string; session_id: string | null; tag: string | null }>(
      `SELECT work_item, session_id, tag FROM $s.worker_queue WHERE instance_id = $1`,
      [instance],
    );
    expect(queued).toEqual({ work_item: work, session_id: null, tag: null });
  });

  it("accepts keys it does not know and reads absent ones as NULL (empty lists, no metadata)", async () => {
    await ack({ execution_id: 1, a_field_of_tomorrow: { nested: [1, "x"] }, another: "\\u0000" });
    // The turn committed: the lock is released and the batch consumed; no instance row without a
    // name and version, an execution row, no history.
    expect(await one(`SELECT 1 FROM $s.instance_locks WHERE instance_id = $1`, [instance])).toBeUndefined();
    expect(
      await one(`SELECT 1 FROM $s.orchestrator_queue WHERE instance_id = $1`, [instance]),
    ).toBeUndefined();
    expect(await one(`SELECT 1 FROM $s.instances WHERE instance_id = $1`, [instance])).toBeUndefined();
    expect(
      await one(`SELECT status FROM $s.executions WHERE instance_id = $1 AND execution_id = 1`, [instance]),
    ).toEqual({ status: "Running" });
    expect(await one(`SELECT 1 FROM $s.history WHERE instance_id = $1`, [instance])).toBeUndefined();
  });

  it("reads every named field: metadata, status, custom status, KV, pinned version, both queues", async () => {
    const timer = `{"TimerFired":{"instance":"${instance}","execution_id":1,"id":3,"fire_at_ms":${NOW + 60_000}}}`;
    await ack({
      execution_id: 1,
      status: "Completed",
      output: "out",
      orchestration_name: "Orch",
      orchestration_version: "2.0.0",
      parent_instance_id: "parent",
      custom_status_action: "set",
      custom_status: "half",
      kv_ops: [
        { op: "set", key: "k", value: "v", updated_at_ms: 7 },
        { op: "set", key: "gone", value: "x", updated_at_ms: 7 },
        { op: "clear_key", key: "gone" },
      ],
      orchestrator_items: [
        { kind: "TimerFired", work_item: timer, instance_id: "elsewhere", fire_at_ms: NOW + 60_000 },
      ],
      pinned_major: 0,
      pinned_minor: 1,
      pinned_patch: 32,
    });
    expect(
      await one(
        `SELECT orchestration_version, parent_instance_id, custom_status, custom_status_version
           FROM $s.instances WHERE instance_id = $1`,
        [instance],
      ),
    ).toEqual({
      orchestration_version: "2.0.0",
      parent_instance_id: "parent",
      custom_status: "half",
      custom_status_version: 1,
    });
    expect(
      await one(
        `SELECT status, output, completed_at_ms, duroxide_version_major AS ma, duroxide_version_minor AS mi,
                duroxide_version_patch AS pa FROM $s.executions WHERE instance_id = $1`,
        [instance],
      ),
    ).toEqual({ status: "Completed", output: "out", completed_at_ms: String(NOW), ma: 0, mi: 1, pa: 32 });
    const { rows: kv } = await store.pool.query(
      `SELECT key, value FROM ${s}.kv_store WHERE instance_id = $1 ORDER BY key`,
      [instance],
    );
    expect(kv).toEqual([{ key: "k", value: "v" }]);
    expect(
      await one(
        `SELECT kind, work_item, visible_at_ms FROM $s.orchestrator_queue WHERE instance_id = 'elsewhere'`,
      ),
    ).toEqual({ kind: "TimerFired", work_item: timer, visible_at_ms: String(NOW + 60_000) });
  });

  it.each<[string, unknown, RegExp]>([
    ["without execution_id", { events: [] }, /execution_id is missing/],
    ["with a text where execution_id takes an integer", { execution_id: "one" }, /bigint/],
    ["with a list that is not a list", { execution_id: 1, events: "[]" }, /scalar|array/],
    [
      "with an unknown custom status action",
      { execution_id: 1, custom_status_action: "toggle" },
      /custom status action/,
    ],
    [
      "with an ActivityExecute on the orchestrator queue",
      {
        execution_id: 1,
        orchestrator_items: [{ kind: "ActivityExecute", work_item: "{}", instance_id: "x" }],
      },
      /worker queue/,
    ],
    ["that is an array", [], /array/],
  ])("%s is refused, the whole ack rolls back and the lock is kept", async (_label, turn, message) => {
    await expect(ack(turn)).rejects.toThrow(message);
    expect(await one(`SELECT lock_token FROM $s.instance_locks WHERE instance_id = $1`, [instance])).toEqual({
      lock_token: token,
    });
    expect(await one(`SELECT 1 FROM $s.executions WHERE instance_id = $1`, [instance])).toBeUndefined();
    await ack({ execution_id: 1 }); // the same token still commits
  });
});
