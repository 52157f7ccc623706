/**
 * The dashboard API's server time over a large store: seeds a fresh schema with 100 000 instances
 * (scripts/lib/dashboard-seed.ts, generate_series) and one instance with 10 000 history events,
 * then calls each handler in-process (app.request: routing, auth, SQL, JSON; no network) and
 * reports the Server-Timing duration the handler measured: median and max of RUNS runs after one
 * warm-up. Targets (docs/dashboard.md): list pages under 300 ms, the instance page (detail +
 * history) under 500 ms.
 *
 *   DATABASE_URL=postgres://… npx tsx scripts/bench-dashboard.ts
 *   (COUNT=100000 EVENTS=10000 RUNS=7; KEEP=1 leaves the schema for EXPLAIN)
 */
import pg from "pg";
import { encodeCursor } from "../src/dashboard/cursor.ts";
import { createDashboard } from "../src/dashboard/server.ts";
import { migrate, quoteSchema } from "../src/migrate/migrations.ts";
import { PostgresProvider } from "../src/provider/postgres-provider.ts";
import { seedDashboard, seedId } from "./lib/dashboard-seed.ts";

const url = process.env.DATABASE_URL ?? "postgres://postgres:postgres@127.0.0.1:5432/postgres";
const COUNT = Number(process.env.COUNT ?? 100_000);
const EVENTS = Number(process.env.EVENTS ?? 10_000);
const RUNS = Number(process.env.RUNS ?? 7);
const schema = `bench_dash_${Date.now()}`;
const BIG = "big-history";

const pool = new pg.Pool({ connectionString: url, max: 8 });
await migrate(pool, schema);
const nowMs = Date.now();
const seedStart = performance.now();
await seedDashboard(pool, schema, { count: COUNT, nowMs, bigHistory: { id: BIG, events: EVENTS } });
await pool.query(
  `ANALYZE ${quoteSchema(schema)}.instances, ${quoteSchema(schema)}.executions, ${quoteSchema(schema)}.history`,
);
console.log(
  `seeded ${COUNT} instances + ${BIG} (${EVENTS} events) in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`,
);

const provider = await PostgresProvider.create({ pool, schema, longPoll: false });
const app = createDashboard({ provider });
const middle = COUNT >> 1;
const deepCursor = encodeCursor({
  sort: "created_desc",
  afterMs: nowMs - (COUNT - 1 - middle) * 25_000,
  afterId: seedId(middle),
});

const cases: { name: string; path: string; targetMs: number }[] = [
  { name: "list: first page (newest 50)", path: "/api/instances?limit=50", targetMs: 300 },
  {
    name: "list: page at instance 50 000 (cursor)",
    path: `/api/instances?limit=50&cursor=${deepCursor}`,
    targetMs: 300,
  },
  { name: "list: status=Failed", path: "/api/instances?limit=50&status=Failed", targetMs: 300 },
  {
    name: "list: name=Email&status=Running",
    path: "/api/instances?limit=50&name=Email&status=Running",
    targetMs: 300,
  },
  {
    name: "list: created range (one day)",
    path: `/api/instances?limit=50&createdFrom=${nowMs - 10 * 86_400_000}&createdTo=${nowMs - 9 * 86_400_000}`,
    targetMs: 300,
  },
  { name: "list: id prefix q=inst-0421", path: "/api/instances?limit=50&q=inst-0421", targetMs: 300 },
  {
    name: "list: id substring q=4217 (scan)",
    path: "/api/instances?limit=50&q=4217&qMode=contains",
    targetMs: 300,
  },
  { name: "list: sort=updated_desc", path: "/api/instances?limit=50&sort=updated_desc", targetMs: 300 },
  { name: "orchestration names", path: "/api/orchestration-names", targetMs: 300 },
  { name: `instance page: detail (${EVENTS} events)`, path: `/api/instances/${BIG}`, targetMs: 500 },
  { name: `instance page: history (${EVENTS} events)`, path: `/api/instances/${BIG}/history`, targetMs: 500 },
  { name: "queues", path: "/api/queues", targetMs: 300 },
  { name: "metrics (60 min)", path: "/api/metrics?minutes=60", targetMs: 300 },
];

async function serverTime(path: string): Promise<{ ms: number; bytes: number }> {
  const response = await app.request(`http://localhost${path}`);
  const body = await response.text();
  if (response.status !== 200) throw new Error(`${path}: HTTP ${response.status} ${body}`);
  const ms = Number(/dur=([\d.]+)/.exec(response.headers.get("server-timing") ?? "")?.[1]);
  return { ms, bytes: body.length };
}

const rows: string[][] = [];
let failures = 0;
for (const c of cases) {
  await serverTime(c.path); // warm-up: prepared statements, caches
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < RUNS; i++) {
    const r = await serverTime(c.path);
    times.push(r.ms);
    bytes = r.bytes;
  }
  times.sort((a, b) => a - b);
  const median = times[times.length >> 1]!;
  const ok = median < c.targetMs;
  if (!ok) failures++;
  rows.push([
    c.name,
    median.toFixed(1),
    times.at(-1)!.toFixed(1),
    `< ${c.targetMs}`,
    ok ? "ok" : "OVER",
    String(bytes),
  ]);
}

const header = ["request", "median ms", "max ms", "target", "", "bytes"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) =>
  `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
console.log(`\n${COUNT} instances, ${RUNS} runs each, server time (Server-Timing) of the handler:\n`);
console.log(line(header));
console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
for (const r of rows) console.log(line(r));

await provider.close();
if (process.env.KEEP !== "1") await pool.query(`DROP SCHEMA ${quoteSchema(schema)} CASCADE`);
else console.log(`\nkept schema ${schema}`);
await pool.end();
process.exitCode = failures > 0 ? 1 : 0;
