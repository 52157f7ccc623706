/**
 * Named vs unnamed prepared statements on the provider's hot calls, on a direct connection (see
 * src/provider/sql.ts). One iteration: enqueue a start, fetch + ack it (scheduling an activity),
 * fetch + ack the activity, fetch + ack the completion, read the history (9 calls, one
 * connection). Rounds alternate A/B (and which goes first) to spread the machine's drift.
 *
 *   DATABASE_URL=postgres://… N=150 ROUNDS=10 npx tsx scripts/bench-statements.ts
 *   (WORKLOAD=reads: nine read-only calls per iteration instead, the per-call overhead alone;
 *   SYNC_COMMIT=on: flush each commit as production does)
 */
import pg from "pg";
import { migrate } from "../src/migrate/migrations.ts";
import * as orch from "../src/provider/orchestration-store.ts";
import { SqlFunctions } from "../src/provider/sql.ts";
import * as work from "../src/provider/worker-queue.ts";

const url = process.env.DATABASE_URL ?? "postgres://postgres:postgres@127.0.0.1:5432/postgres";
const schema = `bench_${Date.now()}`;
// synchronous_commit off: the WAL flush of each commit would drown the parse cost being measured.
const pool = new pg.Pool({
  connectionString: url,
  max: 1,
  options: `-c synchronous_commit=${process.env.SYNC_COMMIT ?? "off"}`,
});
await migrate(pool, schema);
const V = "0.1.26";
const ev = (instance: string, id: number, kind: object, src: number | null = null) => ({
  event_id: id,
  source_event_id: src,
  instance_id: instance,
  execution_id: 1,
  timestamp_ms: Date.now(),
  duroxide_version: V,
  ...kind,
});
/** SqlFunctions with unnamed statements, as behind a transaction-mode pooler. */
class UnnamedSqlFunctions extends SqlFunctions {
  protected override statementName(): undefined {
    return undefined;
  }
}
const defaultOnly = { kind: "defaultOnly" } as const;

/** WORKLOAD=reads: nine cheap read-only calls, the worst case for per-call parse overhead. */
async function readIteration(sql: SqlFunctions, instance: string) {
  for (let i = 0; i < 9; i++) await orch.getCustomStatus(sql, instance, 0);
}

async function iteration(sql: SqlFunctions, instance: string) {
  if (process.env.WORKLOAD === "reads") return await readIteration(sql, instance);
  await orch.enqueueForOrchestrator(
    sql,
    {
      StartOrchestration: {
        instance,
        orchestration: "B",
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
  if (!item) throw new Error("no orch item");
  await orch.ackOrchestrationItem(sql, {
    lockToken: item.lockToken,
    executionId: 1,
    historyDelta: [
      ev(instance, 1, {
        type: "OrchestrationStarted",
        name: "B",
        version: "1.0.0",
        input: "{}",
        parent_instance: null,
        parent_id: null,
      }),
      ev(instance, 2, { type: "ActivityScheduled", name: "A", input: "{}" }),
    ] as never,
    workerItems: [{ ActivityExecute: { instance, execution_id: 1, id: 2, name: "A", input: "{}" } }] as never,
    orchestratorItems: [],
    metadata: { orchestrationName: "B", orchestrationVersion: "1.0.0", status: "Running" },
    cancelledActivities: [],
  });
  const w = await work.fetchWorkItem(sql, 30_000, 0, null, defaultOnly);
  if (!w) throw new Error("no work item");
  await work.ackWorkItem(sql, w.lockToken, {
    ActivityCompleted: { instance, execution_id: 1, id: 2, result: "1" },
  } as never);
  const done = await orch.fetchOrchestrationItem(sql, 30_000, 0, null);
  if (done?.item.instance !== instance) throw new Error("no completion item");
  await orch.ackOrchestrationItem(sql, {
    lockToken: done.lockToken,
    executionId: 1,
    historyDelta: [
      ev(instance, 3, { type: "ActivityCompleted", result: "1" }, 2),
      ev(instance, 4, { type: "OrchestrationCompleted", output: "1" }),
    ] as never,
    workerItems: [],
    orchestratorItems: [],
    metadata: { status: "Completed", output: "1" },
    cancelledActivities: [],
  });
  await orch.read(sql, instance);
}

const N = Number(process.env.N ?? 300),
  ROUNDS = Number(process.env.ROUNDS ?? 6);
const results = { named: [] as number[], unnamed: [] as number[] };
let k = 0;
for (let r = 0; r < ROUNDS; r++) {
  for (const mode of r % 2 === 0 ? (["named", "unnamed"] as const) : (["unnamed", "named"] as const)) {
    const sql = mode === "named" ? new SqlFunctions(pool, schema) : new UnnamedSqlFunctions(pool, schema);
    for (let i = 0; i < 20; i++) await iteration(sql, `warm-${k++}`); // prepare/warm
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) await iteration(sql, `i-${k++}`);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    results[mode].push((ms / N) * 1000);
    console.log(`round ${r} ${mode.padEnd(7)} ${((ms / N) * 1000).toFixed(0)} µs/iteration (9 calls)`);
  }
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const n = median(results.named),
  u = median(results.unnamed);
console.log(
  `median named ${n.toFixed(0)} µs, unnamed ${u.toFixed(0)} µs, unnamed/named = ${(u / n).toFixed(3)}`,
);
await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
await pool.end();
