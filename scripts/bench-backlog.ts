/**
 * Fetch cost against backlog: the median empty fetch through PostgresProvider (named prepared
 * statements, as in production) on a store holding N rows the fetcher cannot take, one shape at a
 * time, against the same fetch on an empty store; plus one orchestrator turn (fetch + ack of one
 * instance) while a million history rows of other instances exist. A fetch whose time grows with
 * rows it cannot take scans them: each shape should stay within 2x of its empty-store time.
 *
 *   npm run bench:backlog -- [--sizes 0,20000,100000] [--history 1000000] [--samples 40]
 *                            [--database-url postgres://…] [--to 18]
 *
 * Without --database-url (or DATABASE_URL) an embedded server is started for the run. Rows are
 * seeded with generate_series into a schema of its own (dropped at the end) and analysed, as
 * autovacuum would; each measurement uses a fresh one-connection provider whose plans get past the
 * custom-plan phase (plpgsql switches to a cached generic plan after five calls) before timing.
 * --to N migrates the schema only up to migration N (to measure an older schema).
 */
import Table from "cli-table3";
import { Command } from "commander";
import pg from "pg";
import { migrate, quoteSchema } from "../src/migrate/migrations.ts";
import { PostgresProvider } from "../src/provider/postgres-provider.ts";
import type { Event, SessionFetchConfig, TagFilter } from "../src/provider/types.ts";
import { type EmbeddedServer, startEmbeddedPostgres } from "../src/testing/embedded-postgres.ts";

const DAY_MS = 86_400_000;
const WARM_UP_CALLS = 10;
const LOCK_MS = 30_000;

interface Options {
  sizes: number[];
  history: number;
  samples: number;
  databaseUrl: string | undefined;
  to: number | undefined;
}

function parseOptions(argv: string[]): Options {
  const program = new Command()
    .name("bench-backlog")
    .option("--sizes <list>", "backlog sizes, comma separated", "0,20000,100000")
    .option("--history <rows>", "history rows of other instances for the turn case (0: skip)", "1000000")
    .option("--samples <n>", "timed fetches per cell (the median is shown)", "40")
    .option("--database-url <url>", "an existing server (default: DATABASE_URL, else an embedded one)")
    .option("--to <version>", "migrate the bench schema only up to this migration")
    .parse(argv);
  const o = program.opts<{
    sizes: string;
    history: string;
    samples: string;
    databaseUrl?: string;
    to?: string;
  }>();
  const count = (text: string, name: string) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0)
      throw new Error(`--${name} must be a non-negative integer, got ${text}`);
    return n;
  };
  return {
    sizes: o.sizes.split(",").map((s) => count(s.trim(), "sizes")),
    history: count(o.history, "history"),
    samples: Math.max(1, count(o.samples, "samples")),
    databaseUrl: o.databaseUrl ?? process.env.DATABASE_URL,
    to: o.to === undefined ? undefined : count(o.to, "to"),
  };
}

/** One backlog shape: the rows it seeds (n of them, at time now) and the empty fetch it times. */
interface Shape {
  label: string;
  seed: (db: pg.ClientBase, n: number, now: number) => Promise<void>;
  fetch: (provider: PostgresProvider) => Promise<unknown>;
}

const defaultOnly: TagFilter = { kind: "defaultOnly" };
const sessionConfig: SessionFetchConfig = { ownerId: "bench-worker", lockTimeoutMs: LOCK_MS };
const fetchWork = (session: SessionFetchConfig | null) => (p: PostgresProvider) =>
  p.fetchWorkItem(LOCK_MS, 0, session, defaultOnly);
const fetchOrchestration = (p: PostgresProvider) => p.fetchOrchestrationItem(LOCK_MS, 0, null);

/**
 * worker_queue rows: $1 count, $2 now; the rest of the columns per shape. Enqueued rows are visible
 * from their creation (visible_at = created_at); an abandon with a delay moves visible_at on.
 */
const workerRows = (visibleAt: string, tag: string, session: string, attempts: number) => `
  INSERT INTO worker_queue (kind, work_item, visible_at_ms, attempt_count, instance_id, execution_id,
                            activity_id, session_id, tag, created_at_ms)
  SELECT 'ActivityExecute',
         json_build_object('ActivityExecute', json_build_object(
           'instance', 'bench-' || g, 'execution_id', 1, 'id', g, 'name', 'A', 'input', '{}'))::text,
         ${visibleAt}, ${attempts}, 'bench-' || g, 1, g, ${session}, ${tag}, $2::bigint - 1000
    FROM generate_series(1, $1::int) g`;

const SESSIONS_HELD_BY_ANOTHER = 10;

const shapes: Shape[] = [
  {
    label: "worker items visible only later (abandoned with delay)",
    seed: async (db, n, now) => {
      await db.query(workerRows(`$2::bigint + ${DAY_MS}`, "NULL", "NULL", 1), [n, now]);
    },
    fetch: fetchWork(null),
  },
  {
    label: "tagged items, default-only worker",
    seed: async (db, n, now) => {
      await db.query(workerRows("$2::bigint - 1000", "'gpu'", "NULL", 0), [n, now]);
    },
    fetch: fetchWork(null),
  },
  {
    label: `session items, ${SESSIONS_HELD_BY_ANOTHER} sessions owned by another worker`,
    seed: async (db, n, now) => {
      await db.query(
        `INSERT INTO sessions (session_id, owner_id, locked_until, last_activity_at)
         SELECT 'bench-session-' || s, 'other-worker', $1, $2
           FROM generate_series(0, ${SESSIONS_HELD_BY_ANOTHER - 1}) s`,
        [now + DAY_MS, now],
      );
      await db.query(
        workerRows("$2::bigint - 1000", "NULL", `'bench-session-' || (g % ${SESSIONS_HELD_BY_ANOTHER})`, 0),
        [n, now],
      );
    },
    fetch: fetchWork(sessionConfig),
  },
  {
    label: "pending messages of one locked instance (fan-in mid-turn)",
    seed: async (db, n, now) => {
      await db.query(
        `INSERT INTO instance_locks (instance_id, lock_token, locked_until, locked_at)
         VALUES ('bench-fan-in', 'bench-token', $1, $2)`,
        [now + DAY_MS, now],
      );
      await db.query(
        `INSERT INTO orchestrator_queue (instance_id, kind, work_item, visible_at_ms, created_at_ms)
         SELECT 'bench-fan-in', 'ActivityCompleted',
                json_build_object('ActivityCompleted', json_build_object(
                  'instance', 'bench-fan-in', 'execution_id', 1, 'id', g, 'result', '1'))::text,
                $2::bigint - 1000, $2::bigint - 1000
           FROM generate_series(1, $1::int) g`,
        [n, now],
      );
    },
    fetch: fetchOrchestration,
  },
  {
    label: "future timers",
    seed: async (db, n, now) => {
      await db.query(
        `INSERT INTO orchestrator_queue (instance_id, kind, work_item, visible_at_ms, created_at_ms)
         SELECT 'bench-timer-' || g, 'TimerFired',
                json_build_object('TimerFired', json_build_object(
                  'instance', 'bench-timer-' || g, 'execution_id', 1, 'id', 2,
                  'fire_at_ms', $2::bigint + ${DAY_MS}))::text,
                $2::bigint + ${DAY_MS}, $2
           FROM generate_series(1, $1::int) g`,
        [n, now],
      );
    },
    fetch: fetchOrchestration,
  },
];

const STORE_TABLES = [
  "worker_queue",
  "orchestrator_queue",
  "instance_locks",
  "sessions",
  "history",
  "executions",
  "instances",
];

async function resetStore(db: pg.ClientBase): Promise<void> {
  await db.query(`TRUNCATE ${STORE_TABLES.join(", ")}`);
}

async function analyse(db: pg.ClientBase): Promise<void> {
  await db.query(`VACUUM ANALYZE ${STORE_TABLES.join(", ")}`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** A one-connection provider, so every call reuses one session's prepared and cached plans. */
function openProvider(url: string, schema: string): Promise<PostgresProvider> {
  // checkSchema off: with --to the schema is behind the package on purpose.
  return PostgresProvider.create({
    connectionString: url,
    schema,
    poolSize: 1,
    longPoll: false,
    checkSchema: false,
  });
}

/** Median empty fetch of one shape at one size. */
async function measureShape(
  url: string,
  schema: string,
  db: pg.ClientBase,
  shape: Shape,
  n: number,
  o: Options,
) {
  await resetStore(db);
  await shape.seed(db, n, Date.now());
  await analyse(db);
  const provider = await openProvider(url, schema);
  try {
    const samples: number[] = [];
    for (let i = 0; i < WARM_UP_CALLS + o.samples; i++) {
      let found: unknown;
      const ms = await timeMs(async () => {
        found = await shape.fetch(provider);
      });
      if (found) throw new Error(`"${shape.label}" at N=${n}: the fetch took an item it must not take`);
      if (i >= WARM_UP_CALLS) samples.push(ms);
    }
    return median(samples);
  } finally {
    await provider.close();
  }
}

function startEvent(instance: string): Event {
  return {
    event_id: 1,
    source_event_id: null,
    instance_id: instance,
    execution_id: 1,
    timestamp_ms: Date.now(),
    duroxide_version: "0.1.26",
    type: "OrchestrationStarted",
    name: "Bench",
    version: "1.0.0",
    input: "{}",
    parent_instance: null,
    parent_id: null,
  } as unknown as Event;
}

/** Median fetch + ack of one started instance (the enqueue of its start is not timed). */
async function measureTurns(url: string, schema: string, o: Options, round: string): Promise<number> {
  const provider = await openProvider(url, schema);
  try {
    const samples: number[] = [];
    for (let i = 0; i < WARM_UP_CALLS + o.samples; i++) {
      const instance = `bench-turn-${round}-${i}`;
      await provider.enqueueForOrchestrator(
        {
          StartOrchestration: {
            instance,
            orchestration: "Bench",
            input: "{}",
            version: "1.0.0",
            parent_instance: null,
            parent_id: null,
            execution_id: 1,
          },
        } as never,
        null,
      );
      const ms = await timeMs(async () => {
        const fetched = await provider.fetchOrchestrationItem(LOCK_MS, 0, null);
        if (!fetched) throw new Error(`turn ${instance}: nothing fetched`);
        await provider.ackOrchestrationItem(
          fetched.lockToken,
          1,
          [startEvent(instance)],
          [],
          [],
          {
            status: "Completed",
            output: "1",
            orchestrationName: "Bench",
            orchestrationVersion: "1.0.0",
          },
          [],
        );
      });
      if (i >= WARM_UP_CALLS) samples.push(ms);
    }
    return median(samples);
  } finally {
    await provider.close();
  }
}

/** rows history rows: 100 events for each of rows/100 other instances, with their instance and execution rows. */
async function seedHistory(db: pg.ClientBase, rows: number, now: number): Promise<void> {
  const instances = Math.max(1, Math.ceil(rows / 100));
  await db.query(
    `INSERT INTO instances (instance_id, orchestration_name, orchestration_version, created_at_ms, updated_at_ms)
     SELECT 'bench-old-' || i, 'Old', '1.0.0', $2, $2 FROM generate_series(1, $1::int) i`,
    [instances, now],
  );
  await db.query(
    `INSERT INTO executions (instance_id, execution_id, status, started_at_ms, completed_at_ms)
     SELECT 'bench-old-' || i, 1, 'Completed', $2, $2 FROM generate_series(1, $1::int) i`,
    [instances, now],
  );
  await db.query(
    `INSERT INTO history (instance_id, execution_id, event_id, event_type, event_data, created_at_ms)
     SELECT 'bench-old-' || (g / 100 + 1), 1, g % 100 + 1, 'ActivityCompleted',
            '{"type":"ActivityCompleted","event_id":' || (g % 100 + 1) || ',"result":"1"}', $2
       FROM generate_series(0, $1::int - 1) g`,
    [rows, now],
  );
}

/** No colours: the table is pasted into reports and commit messages. */
const PLAIN = { head: [], border: [] };
const fmt = (ms: number) => ms.toFixed(2);
const ratio = (ms: number, base: number) => `x${(ms / base).toFixed(1)}`;

async function main(): Promise<void> {
  const o = parseOptions(process.argv);
  let server: EmbeddedServer | null = null;
  if (!o.databaseUrl) server = await startEmbeddedPostgres();
  const url = o.databaseUrl ?? server!.url;
  const schema = `bench_backlog_${Date.now().toString(36)}`;
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on("error", () => {});
  const db = await pool.connect();
  try {
    await migrate(pool, schema, o.to === undefined ? {} : { toVersion: o.to });
    await db.query(`SET search_path TO ${quoteSchema(schema)}`);
    const version = (await db.query<{ server_version: string }>("SHOW server_version")).rows[0]!
      .server_version;
    console.log(
      `PostgreSQL ${version}, schema migrated to ${o.to ?? "latest"}; median of ${o.samples} empty fetches (ms) after ${WARM_UP_CALLS} warm-up calls`,
    );

    const base = o.sizes[0]!;
    const head = ["rows the fetch cannot take"];
    for (const [i, n] of o.sizes.entries()) head.push(...(i === 0 ? [`N=${n}`] : [`N=${n}`, `vs N=${base}`]));
    const table = new Table({ head, style: PLAIN });
    for (const shape of shapes) {
      const row = [shape.label];
      let first = 0;
      for (const [i, n] of o.sizes.entries()) {
        const ms = await measureShape(url, schema, db, shape, n, o);
        if (i === 0) first = ms;
        row.push(...(i === 0 ? [fmt(ms)] : [fmt(ms), ratio(ms, first)]));
      }
      table.push(row);
    }
    console.log(table.toString());

    if (o.history > 0) {
      await resetStore(db);
      await analyse(db);
      const empty = await measureTurns(url, schema, o, "empty");
      await resetStore(db);
      const seedStart = Date.now();
      await seedHistory(db, o.history, Date.now());
      await analyse(db);
      const seeded = ((Date.now() - seedStart) / 1000).toFixed(1);
      const loaded = await measureTurns(url, schema, o, "loaded");
      const turns = new Table({
        style: PLAIN,
        head: ["orchestrator turn (fetch + ack)", "no history", `${o.history} rows`, "ratio"],
      });
      turns.push(["history rows of other instances", fmt(empty), fmt(loaded), ratio(loaded, empty)]);
      console.log(turns.toString());
      console.log(`(history seeded and analysed in ${seeded} s)`);
    }
  } finally {
    await db.query(`DROP SCHEMA IF EXISTS ${quoteSchema(schema)} CASCADE`).catch(() => {});
    db.release();
    await pool.end();
    await server?.stop();
  }
}

await main();
