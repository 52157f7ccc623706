/**
 * The time of ack_orchestration_item alone, on one connection: each iteration enqueues a start,
 * fetches it (untimed) and acks a typical first turn (started + two activities scheduled, a KV
 * set, a custom status, two worker items, a timer), timing the ack call only.
 * Run it from two checkouts to compare interfaces. With VARIANTS=json,jsonb (a checkout whose ack
 * takes a turn document) the same rounds also run against a second schema whose ack reads the
 * document as jsonb; rounds alternate between the variants to spread the machine's drift.
 *
 *   DATABASE_URL=postgres://… N=500 ROUNDS=4 npx tsx scripts/bench-ack.ts
 */
import { readFile } from "node:fs/promises";
import pg from "pg";
import { migrate, quoteSchema } from "../src/migrate/migrations.ts";
import * as orch from "../src/provider/orchestration-store.ts";
import { SqlFunctions } from "../src/provider/sql.ts";

const url = process.env.DATABASE_URL ?? "postgres://postgres:postgres@127.0.0.1:5432/postgres";
const N = Number(process.env.N ?? 500);
const ROUNDS = Number(process.env.ROUNDS ?? 4);
const VARIANTS = (process.env.VARIANTS ?? "current").split(",");
const pool = new pg.Pool({
  connectionString: url,
  max: 1,
  options: "-c synchronous_commit=off -c track_functions=pl",
});
const stamp = Date.now();

/** The ack of sql/ rewritten to read its document as jsonb (a measurement only). */
async function installJsonb(schema: string): Promise<void> {
  const file = new URL("../sql/30_orchestrator_queue/ack_orchestration_item.sql", import.meta.url);
  const create = (await readFile(file, "utf8")).slice(
    (await readFile(file, "utf8")).indexOf("CREATE OR REPLACE FUNCTION"),
  );
  const jsonb = create.replace(/json_to_record/g, "jsonb_to_record").replace(/\bjson\b/g, "jsonb");
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query(`SET LOCAL search_path TO ${quoteSchema(schema)}, pg_temp`);
    await client.query("DROP FUNCTION ack_orchestration_item(text, bigint, json)");
    await client.query(jsonb);
    await client.query("COMMIT");
  } finally {
    client.release();
  }
}

const V = "0.1.32";
const event = (instance: string, id: number, fields: object) => ({
  event_id: id,
  source_event_id: null,
  instance_id: instance,
  execution_id: 1,
  timestamp_ms: 1_700_000_000_000,
  duroxide_version: V,
  ...fields,
});
const activity = (instance: string, id: number) => ({
  ActivityExecute: {
    instance,
    execution_id: 1,
    id,
    name: "Work",
    input: `{"i":${id},"payload":"${"x".repeat(64)}"}`,
  },
});

async function ackOnce(sql: SqlFunctions, instance: string): Promise<number> {
  await orch.enqueueForOrchestrator(
    sql,
    {
      StartOrchestration: {
        instance,
        orchestration: "Flow",
        input: "{}",
        version: "1.0.0",
        parent_instance: null,
        parent_id: null,
        execution_id: 1,
      },
    } as never,
    null,
  );
  const item = await orch.fetchOrchestrationItem(sql, 30_000, 0, null);
  if (!item) throw new Error("nothing fetched");
  const args = {
    lockToken: item.lockToken,
    executionId: 1,
    historyDelta: [
      event(instance, 1, {
        type: "OrchestrationStarted",
        name: "Flow",
        version: "1.0.0",
        input: "{}",
        parent_instance: null,
        parent_id: null,
      }),
      event(instance, 2, { type: "ActivityScheduled", name: "Work", input: '{"i":2}' }),
      event(instance, 3, { type: "ActivityScheduled", name: "Work", input: '{"i":3}' }),
      event(instance, 4, { type: "KeyValueSet", key: "progress", value: "0", last_updated_at_ms: 1 }),
      event(instance, 5, { type: "CustomStatusUpdated", status: "started" }),
      event(instance, 6, { type: "TimerCreated", fire_at_ms: 4_000_000_000_000 }),
    ],
    workerItems: [activity(instance, 2), activity(instance, 3)],
    orchestratorItems: [{ TimerFired: { instance, execution_id: 1, id: 6, fire_at_ms: 4_000_000_000_000 } }],
    metadata: { orchestrationName: "Flow", orchestrationVersion: "1.0.0", status: "Running" },
    cancelledActivities: [],
  };
  const started = performance.now();
  await orch.ackOrchestrationItem(sql, args as never);
  return performance.now() - started;
}

const variants = new Map<string, SqlFunctions>();
for (const variant of VARIANTS) {
  const schema = `bench_ack_${stamp}_${variant}`;
  await migrate(pool, schema);
  if (variant === "jsonb") await installJsonb(schema);
  variants.set(variant, new SqlFunctions(pool, schema));
}
const totals = new Map<string, number[]>();
try {
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? [...variants] : [...variants].reverse();
    for (const [variant, sql] of order) {
      let ms = 0;
      for (let i = 0; i < N; i++) ms += await ackOnce(sql, `r${round}-${i}`);
      totals.set(variant, [...(totals.get(variant) ?? []), ms]);
    }
  }
  // Server-side time of the ack function itself (its helpers included), from track_functions:
  // statistics reach the shared view once the session has been idle for a moment.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  for (const [variant, rounds] of totals) {
    const all = rounds.reduce((a, b) => a + b, 0);
    const sql = variants.get(variant) as SqlFunctions;
    const { rows } = await pool.query<{ calls: string; total: number }>(
      "SELECT calls, total_time AS total FROM pg_stat_user_functions WHERE schemaname = $1 AND funcname = $2",
      [sql.schema, "ack_orchestration_item"],
    );
    const server = rows[0] ? `${((rows[0].total / Number(rows[0].calls)) * 1000).toFixed(0)} µs` : "n/a";
    const best = Math.min(...rounds);
    console.log(
      `${variant}: ${N * ROUNDS} acks, mean ${((all / (N * ROUNDS)) * 1000).toFixed(0)} µs/ack, ` +
        `best round ${((best / N) * 1000).toFixed(0)} µs, in the server ${server} ` +
        `(rounds: ${rounds.map((r) => ((r / N) * 1000).toFixed(0)).join(", ")} µs)`,
    );
  }
} finally {
  for (const sql of variants.values()) await pool.query(`DROP SCHEMA ${sql.quotedSchema} CASCADE`);
  await pool.end();
}
