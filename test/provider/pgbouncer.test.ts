/**
 * The store behind a pooler. `.ci/pgbouncer.sh` runs this file (and the runtime's end-to-end tests)
 * with DATABASE_URL pointing at PgBouncer in TRANSACTION mode and sets PGBOUNCER_SESSION_URL (the
 * same server through a session-mode pool) and PGBOUNCER_DIRECT_URL (PostgreSQL itself). There:
 * no named prepared statement clashes (42P05), LISTEN is detected as unavailable with one
 * warning and work completes by polling, migrations from several runners work, a direct listen
 * connection and session mode keep LISTEN. On a direct DATABASE_URL (the ordinary suite), the
 * direct-connection behaviour is checked instead: LISTEN is kept, without a warning.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate, migrationStatus, quoteSchema } from "../../src/migrate/migrations.ts";
import { probeListen } from "../../src/provider/listen-probe.ts";
import { PostgresProvider } from "../../src/provider/postgres-provider.ts";
import { Client } from "../../src/runtime/client.ts";
import type { Logger } from "../../src/runtime/logger.ts";
import { Runtime } from "../../src/runtime/runtime.ts";
import { createTestSchema, type TestSchema, uniqueSchemaName } from "../../src/testing/test-schema.ts";
import { eventually } from "../runtime/harness.ts";

const sessionUrl = process.env.PGBOUNCER_SESSION_URL;
const directUrl = process.env.PGBOUNCER_DIRECT_URL;
const behindTransactionPooler = sessionUrl !== undefined && directUrl !== undefined;

let db: TestSchema;
const providers: PostgresProvider[] = [];
const runtimes: Runtime[] = [];

beforeAll(async () => {
  db = await createTestSchema({ prefix: "pgbouncer" });
});

afterAll(async () => {
  await Promise.all(runtimes.map((r) => r.shutdown(2000)));
  await Promise.all(providers.map((p) => p.close()));
  await db?.drop();
});

/** Everything a provider and a runtime say, by level. */
function recordingLogger(): Logger & { lines: { level: string; message: string }[] } {
  const lines: { level: string; message: string }[] = [];
  const at = (level: string) => (message: string) => lines.push({ level, message });
  return { lines, debug() {}, info() {}, warn: at("warn"), error: at("error") };
}

async function provider(options: Partial<Parameters<typeof PostgresProvider.create>[0]>) {
  const created = await PostgresProvider.create({ connectionString: db.url, schema: db.schema, ...options });
  providers.push(created);
  return created;
}

const LISTEN_UNAVAILABLE = /LISTEN\/NOTIFY is unavailable on this connection/;

/**
 * Run `count` orchestrations (two activities each) on a runtime over `runner`, started through a
 * separate provider without long polling, as another process would: the runtime only learns of
 * them from the store (notifications or polling), never in-process.
 */
async function runOrchestrations(runner: PostgresProvider, logger: Logger, prefix: string, count: number) {
  const runtime = new Runtime(runner, {
    orchestrationConcurrency: 4,
    workerConcurrency: 4,
    dispatcherLongPollTimeoutMs: 2_000,
    logger,
  });
  runtimes.push(runtime);
  runtime.registerActivity("Add", async (_ctx, input: { a: number; b: number }) => input.a + input.b);
  runtime.registerOrchestration("Sum", function* (ctx, n: number) {
    const x: number = yield ctx.scheduleActivity("Add", { a: n, b: 1 });
    return yield ctx.scheduleActivity("Add", { a: x, b: n });
  });
  await runtime.start();
  const client = new Client(await provider({ longPoll: false }));
  for (let i = 0; i < count; i++) await client.startOrchestration(`${prefix}-${i}`, "Sum", i);
  for (let i = 0; i < count; i++) {
    const status = await client.waitForOrchestration<number>(`${prefix}-${i}`, 60_000);
    expect(status, `${prefix}-${i}`).toMatchObject({ status: "Completed", output: 2 * i + 1 });
  }
  await runtime.shutdown(2000);
}

if (behindTransactionPooler) {
  describe("behind PgBouncer in transaction mode (DATABASE_URL)", () => {
    it("probeListen reports LISTEN unavailable there, and available in session mode and directly", async () => {
      const transaction = await probeListen({ connectionString: db.url }, { timeoutMs: 1_500 });
      expect(transaction.works).toBe(false);
      expect(transaction.detail).toMatch(/did not arrive within 1500 ms/);
      expect((await probeListen({ connectionString: sessionUrl })).works).toBe(true);
      expect((await probeListen({ connectionString: directUrl })).works).toBe(true);
    });

    it("runs orchestrations with no 42P05, polling after exactly one warning", async () => {
      const logger = recordingLogger();
      const runner = await provider({ logger });
      await runOrchestrations(runner, logger, "tx", 12);
      // The probe waits a few seconds for a notification that never comes; polling meanwhile.
      await eventually(async () => runner.wakeupMode() === "polling", 20_000);
      const warnings = logger.lines.filter((l) => LISTEN_UNAVAILABLE.test(l.message));
      expect(warnings, JSON.stringify(logger.lines)).toHaveLength(1);
      expect(warnings[0]!.level).toBe("warn");
      expect(warnings[0]!.message).toMatch(/falling back to polling the store every \d+ ms/);
      expect(warnings[0]!.message).toMatch(/listenConnectionString/);
      const all = JSON.stringify(logger.lines);
      expect(all).not.toMatch(/42P05|26000|prepared statement/);
      // The first named statement the pooler refused switched this provider to unnamed ones.
      expect(runner.statementMode()).toBe("unnamed");
    });

    it("keeps LISTEN through listenConnectionString (a direct connection for the listener alone)", async () => {
      const logger = recordingLogger();
      const runner = await provider({ logger, listenConnectionString: directUrl });
      await runOrchestrations(runner, logger, "direct-listen", 4);
      expect(runner.wakeupMode()).toBe("listen");
      expect(logger.lines.filter((l) => LISTEN_UNAVAILABLE.test(l.message))).toEqual([]);
    });

    it("migrates through the pooler: concurrent runners, no advisory lock left behind", async () => {
      const schema = uniqueSchemaName("pgb_mig");
      const direct = new pg.Client({ connectionString: directUrl });
      await direct.connect();
      try {
        const applied = await Promise.all([1, 2, 3].map(() => migrate(db.url, schema)));
        // Each migration applied exactly once, by one of the runners.
        expect(applied.flat().sort((a, b) => a - b)).toEqual(
          (await migrationStatus(db.url, schema)).map((s) => s.version),
        );
        // The schema's migration lock is free: no session lock was left on a pooled connection.
        const { rows } = await direct.query<{ free: boolean }>(
          `SELECT pg_try_advisory_lock(hashtextextended('pg-durable:migrate:' || $1, 0)) AS free`,
          [schema],
        );
        expect(rows[0]!.free).toBe(true);
      } finally {
        await direct.query(`DROP SCHEMA IF EXISTS ${quoteSchema(schema)} CASCADE`);
        await direct.end();
      }
    });
  });

  describe("behind PgBouncer in session mode (PGBOUNCER_SESSION_URL)", () => {
    it("keeps LISTEN and warns about nothing", async () => {
      const logger = recordingLogger();
      const runner = await provider({ connectionString: sessionUrl, logger });
      await runOrchestrations(runner, logger, "session", 4);
      expect(runner.wakeupMode()).toBe("listen");
      expect(runner.statementMode()).toBe("named"); // a session keeps its prepared statements
      expect(logger.lines.filter((l) => l.level === "warn" || l.level === "error")).toEqual([]);
    });
  });
} else {
  describe("on a direct connection (DATABASE_URL)", () => {
    it("detects that LISTEN works, keeps it, and warns about nothing", async () => {
      expect((await probeListen({ connectionString: db.url })).works).toBe(true);
      const logger = recordingLogger();
      const runner = await provider({ logger });
      await runOrchestrations(runner, logger, "direct", 4);
      await eventually(async () => runner.wakeupMode() === "listen", 10_000);
      expect(runner.statementMode()).toBe("named");
      expect(logger.lines.filter((l) => l.level === "warn" || l.level === "error")).toEqual([]);
    });
  });
}
