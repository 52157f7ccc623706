/**
 * Live migration: migrations applied to a schema while a provider (and a runtime) work on it.
 *
 * What a concurrent caller sees (PG 15 and 18): CREATE OR REPLACE with the same signature, ALTER
 * FUNCTION … SECURITY DEFINER and DROP + CREATE with the same result type are invisible to prepared
 * statements (they are re-planned). DROP + CREATE with a different result type makes every
 * connection's prepared statement fail with 0A000 "cached plan must not change result type" until
 * it is deallocated; sql.ts then renames the statement so the retry succeeds.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMigrations, migrate, migrationStatus, quoteSchema } from "../../src/migrate/migrations.ts";
import { isRetryableDatabaseError, ProviderError } from "../../src/provider/errors.ts";
import { PostgresProvider } from "../../src/provider/postgres-provider.ts";
import type { Event, FetchedWorkItem } from "../../src/provider/types.ts";
import { Client } from "../../src/runtime/client.ts";
import type { Logger } from "../../src/runtime/logger.ts";
import { Runtime } from "../../src/runtime/runtime.ts";
import { createTestSchema, type TestSchema } from "../../src/testing/test-schema.ts";
import { eventually, FAST, sleep } from "../runtime/harness.ts";

const STALE_PLAN = /cached plan must not change result type/;

/**
 * Change the result type of `fn` the way a migration would (DROP + CREATE in one transaction,
 * here by renaming the original and putting a wrapper in its place): same arguments, the same
 * columns plus `extra` (a void function gets the single column `extra`), so the provider's code
 * still finds what it reads. Returns the SQL that undoes it (restoring the original result type).
 */
async function changeResultType(pool: pg.Pool, schema: string, fn: string, extra: string): Promise<string> {
  const s = quoteSchema(schema);
  const { rows } = await pool.query<{
    args: string;
    identity: string;
    result: string;
    nargs: number;
    secdef: boolean;
  }>(
    `SELECT pg_get_function_arguments(p.oid) AS args, pg_get_function_identity_arguments(p.oid) AS identity,
            pg_get_function_result(p.oid) AS result, p.pronargs AS nargs, p.prosecdef AS secdef
       FROM pg_proc p WHERE p.pronamespace = $1::regnamespace AND p.proname = $2`,
    [s, fn],
  );
  expect(rows).toHaveLength(1);
  const { args, identity, result, nargs, secdef } = rows[0]!;
  const original = `${fn}_before_${extra}`;
  const params = Array.from({ length: nargs }, (_, i) => `$${i + 1}`).join(", ");
  const [returns, body] =
    result === "void"
      ? [`TABLE(${extra} boolean)`, `SELECT ${original}(${params}); SELECT true;`]
      : [`${result.replace(/\)$/, `, ${extra} boolean)`)}`, `SELECT *, true FROM ${original}(${params})`];
  expect(returns.startsWith("TABLE(")).toBe(true);
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    // As the runner does: functions pin this search_path (SET search_path FROM CURRENT).
    await client.query(`SET LOCAL search_path TO ${s}, pg_temp`);
    await client.query(`ALTER FUNCTION ${fn}(${identity}) RENAME TO ${original}`);
    await client.query(
      `CREATE FUNCTION ${fn}(${args}) RETURNS ${returns} LANGUAGE sql
         ${secdef ? "SECURITY DEFINER" : ""} SET search_path FROM CURRENT AS $fn$ ${body} $fn$`,
    );
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK");
    throw error;
  } finally {
    client.release();
  }
  return `BEGIN; SET LOCAL search_path TO ${s}, pg_temp; DROP FUNCTION ${fn}(${identity});
          ALTER FUNCTION ${original}(${identity}) RENAME TO ${fn}; COMMIT`;
}

type Outcome = { ok: FetchedWorkItem | null } | { error: unknown };

function expectRetryableStalePlan(outcome: Outcome): void {
  expect("error" in outcome).toBe(true);
  if (!("error" in outcome)) return;
  expect(outcome.error).toBeInstanceOf(ProviderError);
  expect((outcome.error as ProviderError).retryable).toBe(true);
  expect((outcome.error as ProviderError).message).toMatch(STALE_PLAN);
}

async function attempt<T>(call: () => Promise<T>): Promise<{ ok: T } | { error: unknown }> {
  try {
    return { ok: await call() };
  } catch (error) {
    return { error };
  }
}

describe("a provider while a migration replaces its functions", () => {
  const POOL = 4;
  let db: TestSchema;
  let pool: pg.Pool;
  let provider: PostgresProvider;

  beforeAll(async () => {
    db = await createTestSchema({ prefix: "live_fn" });
    pool = new pg.Pool({ connectionString: db.url, max: POOL });
    provider = await PostgresProvider.create({ pool, schema: db.schema, longPoll: false });
    for (let i = 0; i < 400; i++) {
      await provider.enqueueForWorker({
        ActivityExecute: { instance: `i${i}`, execution_id: 1, id: 1, name: "A", input: "{}" },
      });
    }
  });

  afterAll(async () => {
    await provider?.close();
    await pool?.end();
    await db?.drop();
  });

  const fetch = () => attempt(() => provider.fetchWorkItem(30_000, 0, null, { kind: "defaultOnly" }));
  /** POOL fetches at once: each takes its own pooled connection. */
  const round = () => Promise.all(Array.from({ length: POOL }, fetch));

  it("fails a call whose result type changed at most once, retryably, then succeeds on every connection", async () => {
    // Warm pool: the fetch statement is prepared on every connection.
    for (const outcome of await round()) expect("ok" in outcome && outcome.ok?.item).toBeTruthy();
    expect(pool.totalCount).toBe(POOL);

    for (const extra of ["migrated_once", "migrated_twice"]) {
      const undo = await changeResultType(db.pool, db.schema, "fetch_work_item", extra);
      for (const step of ["changed", "restored"]) {
        if (step === "restored") await db.pool.query(undo);
        // One caller retrying in a row: without a fresh statement name it would meet the stale
        // statement on each of the POOL warm connections in turn.
        const first = await fetch();
        expectRetryableStalePlan(first);
        const retry = await fetch();
        expect("ok" in retry && retry.ok?.item).toBeTruthy();
        // No connection keeps failing: rounds that use every pooled connection all succeed.
        for (let r = 0; r < 5; r++) {
          for (const outcome of await round()) {
            expect("ok" in outcome && outcome.ok?.item, `${extra}/${step}: ${String(outcome)}`).toBeTruthy();
          }
        }
      }
    }
  });

  it("classifies what a migration window can raise: transient races retryable, missing functions not", () => {
    const stale = { code: "0A000", routine: "RevalidateCachedQuery", message: "le plan en cache…" };
    expect(isRetryableDatabaseError(stale)).toBe(true);
    expect(
      isRetryableDatabaseError({ code: "XX000", message: "cache lookup failed for function 16479" }),
    ).toBe(true);
    // A genuine "feature not supported" is a bug, and a function that does not exist stays missing
    // until someone migrates: retrying in a loop would hide either.
    expect(isRetryableDatabaseError({ code: "0A000", routine: "transformLockingClause", message: "x" })).toBe(
      false,
    );
    expect(isRetryableDatabaseError({ code: "42883", message: "function f(integer) does not exist" })).toBe(
      false,
    );
  });
});

describe("a runtime while its schema is migrated under it", () => {
  let db: TestSchema;
  let pool: pg.Pool;
  let provider: PostgresProvider;
  let runtime: Runtime;

  afterAll(async () => {
    await runtime?.shutdown(2000);
    await provider?.close();
    await pool?.end();
    await db?.drop();
  });

  it("completes every orchestration, records each activity once, and logs no error", async () => {
    const migrations = await loadMigrations();
    const previous = migrations[migrations.length - 2]!.version;
    // Long polling calls next_wakeup_at, which 0013 introduced: a provider on a schema before it
    // must poll (longPoll: false), as the deployment that ran on that schema did. This way the test
    // stays meaningful whether "previous" is 0012 (0013 adds triggers to the queue tables under
    // load) or a later version (e.g. 0014 altering every function while the runtime long-polls).
    const longPoll = previous >= 13;
    db = await createTestSchema({ prefix: "live_rt", toVersion: previous });
    pool = new pg.Pool({ connectionString: db.url, max: 8 });
    // The schema is one migration behind on purpose: skip the start-up check.
    provider = await PostgresProvider.create({ pool, schema: db.schema, longPoll, checkSchema: false });

    const errors: string[] = [];
    const warnings: string[] = [];
    const logger: Logger = {
      debug() {},
      info() {},
      warn: (m) => warnings.push(m),
      error: (m) => errors.push(m),
    };
    runtime = new Runtime(provider, {
      ...FAST,
      orchestrationConcurrency: 4,
      workerConcurrency: 4,
      logger,
    });
    const executions = new Map<string, number>();
    runtime.registerActivity("Work", async (_ctx, input: { i: number; k: number }) => {
      const key = `${input.i}/${input.k}`;
      executions.set(key, (executions.get(key) ?? 0) + 1);
      await sleep(15);
      return input.i * 10 + input.k;
    });
    runtime.registerOrchestration("Flow", function* (ctx, i: number) {
      const a: number = yield ctx.scheduleActivity("Work", { i, k: 0 });
      yield ctx.scheduleTimer(20 + (i % 5) * 10);
      const b: number = yield ctx.scheduleActivity("Work", { i, k: 1 });
      const rest: { ok?: number }[] = yield ctx.all([
        ctx.scheduleActivity("Work", { i, k: 2 }),
        ctx.scheduleActivity("Work", { i, k: 3 }),
      ]);
      return a + b + rest.reduce((sum, r) => sum + (r.ok ?? 0), 0);
    });
    await runtime.start();

    const COUNT = 100;
    const client = new Client(provider);
    for (let i = 0; i < COUNT; i++) await client.startOrchestration(`flow-${i}`, "Flow", i);

    // In the middle of the work: a quarter of the activities ran.
    await eventually(async () => executions.size >= COUNT, 30_000);
    // The real runner. 0013's CREATE TRIGGERs can lose a deadlock against the live acks (seen on
    // PG 15): the runner retries the rolled-back migration itself.
    await migrate(db.pool, db.schema);
    expect((await migrationStatus(db.pool, db.schema)).filter((s) => !s.applied)).toEqual([]);

    // The worst case on top: a migration that changes the result type of the functions the
    // dispatchers call all the time (fetch and ack of both queues).
    for (const fn of [
      "fetch_orchestration_item",
      "fetch_orchestration_item_or_wakeup",
      "ack_orchestration_item",
      "ack_and_fetch_orchestration_item",
      "fetch_work_item",
      "ack_work_item",
    ]) {
      await changeResultType(db.pool, db.schema, fn, "test_migrated");
    }
    expect(executions.size).toBeLessThan(COUNT * 4); // still mid-run

    for (let i = 0; i < COUNT; i++) {
      const status = await client.waitForOrchestration<number>(`flow-${i}`, 60_000);
      expect(status, `flow-${i}`).toMatchObject({ status: "Completed", output: 4 * (i * 10) + 6 });
    }

    for (let i = 0; i < COUNT; i++) {
      const history: Event[] = await provider.read(`flow-${i}`);
      const scheduled = history.filter((e) => e.type === "ActivityScheduled").map((e) => e.event_id);
      const completed = history.filter((e) => e.type === "ActivityCompleted").map((e) => e.source_event_id);
      expect(scheduled).toHaveLength(4);
      const ascending = (a: number | null, b: number | null) => (a ?? 0) - (b ?? 0);
      expect(completed.sort(ascending)).toEqual(scheduled.sort(ascending));
      expect(history.some((e) => e.type === "OrchestrationFailed")).toBe(false);
    }
    // No ack was given up on, which would have run its activity again.
    expect(
      [...executions].filter(([, n]) => n !== 1),
      warnings.join("\n"),
    ).toEqual([]);
    expect(errors).toEqual([]);
    // The retry path was taken: the dispatchers' calls met the stale statements and retried (a
    // failed fetch logs a warning; a retried ack, which may also fetch the next item, is counted).
    expect(
      warnings.some((w) => STALE_PLAN.test(w)) || runtime.metricsSnapshot().providerErrors > 0,
      warnings.join("\n"),
    ).toBe(true);
  }, 120_000);
});
