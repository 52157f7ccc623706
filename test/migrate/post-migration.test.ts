/**
 * Post-migration steps (docs/migrations.md): a file in migrations/post-migration/ declares on its
 * first line the version from which it is in effect; from then on the runner runs it in the
 * transaction of every migration it applies and once at the end of every run. The runner knows no
 * step by name: these tests declare a step of their own next to a copy of the packaged migrations.
 */
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  loadPostMigrationSteps,
  MIGRATIONS_DIR,
  MigrationError,
  migrate,
  quoteSchema,
  stepsInEffect,
} from "../../src/migrate/migrations.ts";
import { testDatabaseUrl, uniqueSchemaName } from "../../src/testing/test-schema.ts";

let pool: pg.Pool;
let dir: string;
const created: string[] = [];

/** A step that records, each time it runs, how many migrations the schema had recorded by then. */
const COUNTING_STEP = `-- post-migration step, from migration 0003 on
CREATE TABLE IF NOT EXISTS step_runs (run serial PRIMARY KEY, recorded integer NOT NULL);
INSERT INTO step_runs (recorded) SELECT count(*) FROM schema_migrations;
`;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: testDatabaseUrl(), max: 2 });
  dir = await mkdtemp(join(tmpdir(), "pgd-steps-"));
  await cp(MIGRATIONS_DIR, dir, { recursive: true });
  await writeFile(join(dir, "post-migration", "zz_counting.sql"), COUNTING_STEP);
});

afterAll(async () => {
  for (const schema of created) await pool.query(`DROP SCHEMA IF EXISTS ${quoteSchema(schema)} CASCADE`);
  await pool.end();
  await rm(dir, { recursive: true, force: true });
});

async function recordedAtEachRun(schema: string): Promise<number[]> {
  const { rows } = await pool.query(`SELECT recorded FROM ${quoteSchema(schema)}.step_runs ORDER BY run`);
  return rows.map((r) => r.recorded);
}

describe("post-migration steps", () => {
  it("are declared by their first line; the packaged one is least privilege, from 0014", async () => {
    const packaged = await loadPostMigrationSteps();
    expect(packaged.map((s) => [s.file, s.fromVersion])).toEqual([
      ["post-migration/least_privilege.sql", 14],
    ]);
    const withOurs = await loadPostMigrationSteps(dir);
    expect(withOurs.map((s) => [s.file, s.fromVersion])).toEqual([
      ["post-migration/least_privilege.sql", 14],
      ["post-migration/zz_counting.sql", 3],
    ]);
    expect(stepsInEffect(withOurs, 2)).toEqual([]);
    expect(stepsInEffect(withOurs, 13).map((s) => s.fromVersion)).toEqual([3]);
    expect(stepsInEffect(withOurs, 14).map((s) => s.fromVersion)).toEqual([14, 3]);
  });

  it("refuse a step without the declaration, naming the file", async () => {
    const bad = await mkdtemp(join(tmpdir(), "pgd-steps-bad-"));
    try {
      await cp(MIGRATIONS_DIR, bad, { recursive: true });
      await writeFile(join(bad, "post-migration", "undeclared.sql"), "SELECT 1;\n");
      const error = await loadPostMigrationSteps(bad).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrationError);
      expect((error as Error).message).toMatch(/post-migration\/undeclared\.sql must start with the line/);
    } finally {
      await rm(bad, { recursive: true, force: true });
    }
  });

  it("run in each migration's transaction from their version on, and once at the end of every run", async () => {
    const schema = uniqueSchemaName("steps");
    created.push(schema);
    await migrate(pool, schema, { dir, toVersion: 2 });
    const before = await pool.query("SELECT to_regclass($1) AS t", [`${quoteSchema(schema)}.step_runs`]);
    expect(before.rows[0].t).toBeNull(); // not in effect below 0003

    await migrate(pool, schema, { dir, toVersion: 5 });
    // After 0003, 0004 and 0005 (each before its own row is recorded), then at the end of the run.
    expect(await recordedAtEachRun(schema)).toEqual([2, 3, 4, 5]);

    await migrate(pool, schema, { dir, toVersion: 5 }); // nothing to apply: the end-of-run pass only
    expect(await recordedAtEachRun(schema)).toEqual([2, 3, 4, 5, 5]);
  });
});
