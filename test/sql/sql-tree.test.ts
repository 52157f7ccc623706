/**
 * The current-state SQL tree (sql/, scripts/lib/sql-tree.ts): installed fresh it gives the same
 * catalog as the migrations; an edit on one side shows up as a per-object diff naming the object;
 * and `migration:new` (scripts/lib/scaffold.ts) turns changed function files into the next migration,
 * worked on temporary copies so migrations/ is never touched.
 */
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { diffSchemas } from "../../scripts/lib/catalog.ts";
import { scaffoldMigration } from "../../scripts/lib/scaffold.ts";
import { snapshotMigrated, snapshotTree } from "../../scripts/lib/snapshots.ts";
import { readSqlTree, SQL_DIR, SqlTreeError, stepsAfterTree } from "../../scripts/lib/sql-tree.ts";
import { MIGRATIONS_DIR } from "../../src/migrate/migrations.ts";
import { testDatabaseUrl } from "../../src/testing/test-schema.ts";

let pool: pg.Pool;
let work: string;
let sqlDir: string;
let migrationsDir: string;

async function replaceIn(file: string, from: string, to: string): Promise<void> {
  const text = await readFile(file, "utf8");
  expect(text).toContain(from);
  await writeFile(
    file,
    text.replace(from, () => to),
  );
}

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: testDatabaseUrl(), max: 2 });
  work = await mkdtemp(join(tmpdir(), "pgd-sql-tree-"));
  sqlDir = join(work, "sql");
  migrationsDir = join(work, "migrations");
  await cp(SQL_DIR, sqlDir, { recursive: true });
  await cp(MIGRATIONS_DIR, migrationsDir, { recursive: true });
});

afterAll(async () => {
  await pool.end();
  await rm(work, { recursive: true, force: true });
});

describe("sql/ tree", () => {
  it("installed fresh gives the catalog the migrations give", async () => {
    expect(
      diffSchemas("sql/", await snapshotTree(pool), "migrations/", await snapshotMigrated(pool)),
    ).toEqual([]);
  });

  it("lists every file in load-order.txt, and refuses a file it does not list", async () => {
    const tree = await readSqlTree();
    expect(tree[0]!.path).toBe("10_tables/instances.sql");
    expect(tree.at(-1)!.path).toMatch(/^88_triggers\//);
    // Least privilege is not copied into the tree: the post-migration step runs after it.
    expect((await stepsAfterTree()).map((step) => step.file)).toEqual(["post-migration/least_privilege.sql"]);
    const copy = join(work, "unlisted");
    await cp(SQL_DIR, copy, { recursive: true });
    await writeFile(join(copy, "80_management", "stray.sql"), "SELECT 1;\n");
    await expect(readSqlTree(copy)).rejects.toThrow(SqlTreeError);
    await expect(readSqlTree(copy)).rejects.toThrow(/80_management\/stray\.sql is not listed/);
  });

  it("an edit of one function body shows as a diff naming that function and nothing else", async () => {
    const copy = join(work, "edited");
    await cp(SQL_DIR, copy, { recursive: true });
    await replaceIn(
      join(copy, "80_management", "get_parent_id.sql"),
      "'Instance % not found'",
      "'no instance %'",
    );
    const diff = diffSchemas(
      "sql/",
      await snapshotTree(pool, copy),
      "migrations/",
      await snapshotMigrated(pool),
    );
    expect(diff).toHaveLength(1);
    expect(diff[0]).toMatch(/^function get_parent_id\(p_instance text\) differs:/);
    expect(diff[0]).toContain("-    RAISE EXCEPTION 'no instance %'");
    expect(diff[0]).toContain("+    RAISE EXCEPTION 'Instance % not found'");
  });
});

describe("migration:new", () => {
  it("scaffolds a migration from changed function files that makes the migrations equal the tree", async () => {
    const before = await readdir(MIGRATIONS_DIR);
    // A body change, and a signature change (a new parameter) that needs the old one dropped.
    await replaceIn(
      join(sqlDir, "80_management", "get_parent_id.sql"),
      "'Instance % not found'",
      "'no instance %'",
    );
    await replaceIn(
      join(sqlDir, "80_management", "list_children.sql"),
      "list_children(p_instance text) RETURNS SETOF text",
      "list_children(p_instance text, p_limit integer DEFAULT NULL) RETURNS SETOF text",
    );
    await replaceIn(
      join(sqlDir, "80_management", "list_children.sql"),
      "instance_id\n$$",
      "instance_id LIMIT p_limit\n$$",
    );

    const scaffold = await scaffoldMigration(pool, { name: "probe_change", sqlDir, migrationsDir });
    const next = String(before.filter((f) => f.endsWith(".sql")).length + 1).padStart(4, "0");
    expect(scaffold.file).toBe(join(migrationsDir, `${next}_probe_change.sql`));
    // In load order (sql/load-order.txt), not alphabetical.
    expect(scaffold.changedFiles).toEqual([
      "80_management/list_children.sql",
      "80_management/get_parent_id.sql",
    ]);
    expect(scaffold.dropped).toEqual(["list_children(p_instance text)"]);
    expect(scaffold.byHand).toEqual([]);
    expect(scaffold.content).toMatch(new RegExp(`^-- ${next}_probe_change: TODO`));
    expect(scaffold.content).toContain("DROP FUNCTION list_children(p_instance text);");
    expect(scaffold.content).toContain("CREATE OR REPLACE FUNCTION get_parent_id(p_instance text)");
    expect(scaffold.content).not.toContain("FUNCTION list_instances(");

    await writeFile(scaffold.file, scaffold.content);
    const diff = diffSchemas(
      "sql/",
      await snapshotTree(pool, sqlDir),
      "migrations/",
      await snapshotMigrated(pool, migrationsDir),
    );
    expect(diff).toEqual([]);
    await expect(scaffoldMigration(pool, { name: "again", sqlDir, migrationsDir })).rejects.toThrow(
      /nothing to scaffold/,
    );
    expect(await readdir(MIGRATIONS_DIR)).toEqual(before);
  });

  it("lists a table change for the author to write by hand", async () => {
    const copy = join(work, "table-change");
    await cp(SQL_DIR, copy, { recursive: true });
    await replaceIn(
      join(copy, "10_tables", "sessions.sql"),
      "last_activity_at bigint NOT NULL",
      "last_activity_at bigint NOT NULL,\n  note text",
    );
    const scaffold = await scaffoldMigration(pool, {
      name: "note",
      sqlDir: copy,
      migrationsDir: MIGRATIONS_DIR,
    });
    expect(scaffold.changedFiles).toEqual([]);
    expect(scaffold.byHand).toEqual(["table sessions differs"]);
    expect(scaffold.content).toContain("--   table sessions differs");
  });
});
