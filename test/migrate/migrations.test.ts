import { execFile } from "node:child_process";
import { cp, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMigrateCli } from "../../src/migrate/cli.ts";
import {
  MIGRATIONS_DIR,
  MigrationError,
  migrate,
  migrationStatus,
  quoteSchema,
} from "../../src/migrate/migrations.ts";
import { PostgresProvider } from "../../src/provider/postgres-provider.ts";
import { testDatabaseUrl, uniqueSchemaName } from "../../src/testing/test-schema.ts";

const run = promisify(execFile);
let pool: pg.Pool;
const created: string[] = [];

async function appliedVersions(schema: string): Promise<number[]> {
  const { rows } = await pool.query(
    `SELECT version FROM ${quoteSchema(schema)}.schema_migrations ORDER BY version`,
  );
  return rows.map((r) => r.version);
}

function track(schema: string): string {
  created.push(schema);
  return schema;
}

beforeAll(() => {
  pool = new pg.Pool({ connectionString: testDatabaseUrl(), max: 4 });
});

afterAll(async () => {
  for (const schema of created) await pool.query(`DROP SCHEMA IF EXISTS ${quoteSchema(schema)} CASCADE`);
  await pool.end();
});

describe("migration runner", () => {
  it("tracks several schemas in one database independently", async () => {
    const a = track(uniqueSchemaName("mig_a"));
    const b = track(uniqueSchemaName("mig_b"));
    const all = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith(".sql")).length;
    await migrate(pool, a, { toVersion: 2 });
    await migrate(pool, b);
    expect(await appliedVersions(a)).toEqual([1, 2]);
    expect((await appliedVersions(b)).length).toBe(all);
    const statusA = await migrationStatus(pool, a);
    expect(statusA.filter((s) => s.applied).map((s) => s.version)).toEqual([1, 2]);
    expect(statusA.filter((s) => !s.applied).length).toBe(all - 2);
    await migrate(pool, a);
    expect((await appliedVersions(a)).length).toBe(all);
  });

  it("lets six processes migrate the same fresh schema at once, all succeeding", async () => {
    const schema = track(uniqueSchemaName("mig_race"));
    const url = testDatabaseUrl();
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, () =>
        run("npx", ["tsx", "src/migrate/cli.ts", "--schema", schema, "--database-url", url], {
          timeout: 60_000,
        }),
      ),
    );
    const failures = results.filter((r) => r.status === "rejected");
    expect(failures).toEqual([]);
    const versions = await appliedVersions(schema);
    expect(new Set(versions).size).toBe(versions.length);
    expect(versions.length).toBe((await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith(".sql")).length);
  });

  it("refuses an applied migration whose file was edited, and changes nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pgd-migrations-"));
    try {
      await cp(MIGRATIONS_DIR, dir, { recursive: true });
      const schema = track(uniqueSchemaName("mig_edit"));
      await migrate(pool, schema, { dir, toVersion: 2 });
      const file = (await readdir(dir)).find((f) => f.startsWith("0002_"))!;
      await writeFile(join(dir, file), "-- edited after it was applied\nSELECT 1;\n");
      const error = await migrate(pool, schema, { dir }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrationError);
      expect((error as Error).message).toMatch(/0002_.*edited after it was applied/);
      expect(await appliedVersions(schema)).toEqual([1, 2]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['quotes and a statement: x"; DROP TABLE instances; --'],
    ["UpperCase With Spaces"],
    ["ünïcödé_схема_表"],
    ["semi;colon'quote"],
    ["a".repeat(63)],
  ])("quotes the hostile schema name %j and runs the store in it", async (name) => {
    const schema = track(name);
    await migrate(pool, schema);
    const provider = await PostgresProvider.create({ pool, schema, longPoll: false });
    await provider.enqueueForWorker({
      ActivityExecute: { instance: "i", execution_id: 1, id: 1, name: "A", input: "{}" },
    });
    const fetched = await provider.fetchWorkItem(30_000, 0, null, { kind: "defaultOnly" });
    expect(fetched?.item).toEqual({
      ActivityExecute: { instance: "i", execution_id: 1, id: 1, name: "A", input: "{}" },
    });
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1", [
      name,
    ]);
    expect(rows[0].n).toBe(1);
  });

  it("refuses a schema name longer than 63 bytes instead of letting Postgres truncate it", async () => {
    await expect(migrate(pool, "x".repeat(64))).rejects.toThrow(/longer than 63 bytes/);
    await expect(migrate(pool, "é".repeat(32))).rejects.toThrow(/longer than 63 bytes/);
  });
});

describe("migrate CLI", () => {
  it("fails with a clear message and exit code 2 when no database is given", async () => {
    const saved = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    const errors: string[] = [];
    try {
      const code = await runMigrateCli(
        ["--schema", "x"],
        () => {},
        (s) => errors.push(s),
      );
      expect(code).toBe(2);
      expect(errors.join("\n")).toMatch(/--database-url or set DATABASE_URL/);
    } finally {
      if (saved !== undefined) process.env.DATABASE_URL = saved;
    }
  });

  it("lists pending migrations with --status, applies them, then lists them as applied", async () => {
    const schema = track(uniqueSchemaName("mig_cli"));
    const url = testDatabaseUrl();
    const out: string[] = [];
    expect(
      await runMigrateCli(["--schema", schema, "--database-url", url, "--status"], (s) => out.push(s)),
    ).toBe(0);
    expect(out.join("\n")).toMatch(/0 applied, \d+ pending/);
    out.length = 0;
    expect(await runMigrateCli(["--schema", schema, "--database-url", url], (s) => out.push(s))).toBe(0);
    expect(out.join("\n")).toMatch(/applied \d+ migration\(s\)/);
    out.length = 0;
    expect(
      await runMigrateCli(["--schema", schema, "--database-url", url, "--status"], (s) => out.push(s)),
    ).toBe(0);
    expect(out.join("\n")).toMatch(/\d+ applied, 0 pending/);
    expect(out.join("\n")).toContain("0001");
  });
});
