/**
 * The current-state SQL tree (sql/): one file per table, index set, function and trigger set,
 * loaded in the order of sql/load-order.txt, then the post-migration steps of
 * migrations/post-migration/ (least privilege), run as the migration runner runs them after the
 * latest migration: the rule has one source, not a copy in the tree. It is the edited source of
 * the store; migrations/ stay the upgrade path, and CI checks that both give the same catalog.
 */
import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type pg from "pg";
import {
  ensureTrackingTable,
  inSchemaTransaction,
  loadMigrations,
  loadPostMigrationSteps,
  MIGRATIONS_DIR,
  type PostMigrationStep,
  quoteSchema,
  stepsInEffect,
  withClient,
} from "../../src/migrate/migrations.ts";

export const SQL_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "sql");
export const ORDER_FILE = "load-order.txt";

export interface TreeFile {
  /** Path inside the tree, e.g. `30_orchestrator_queue/fetch_orchestration_item.sql`. */
  path: string;
  sql: string;
}

export class SqlTreeError extends Error {
  override readonly name = "SqlTreeError";
}

async function sqlFilesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const folder of (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory())) {
    for (const file of await readdir(join(dir, folder.name)))
      if (file.endsWith(".sql")) found.push(`${folder.name}/${file}`);
  }
  return found.sort();
}

/**
 * The tree's files in load order. Refuses an order file that misses a file, lists one twice or
 * names one that does not exist, and a folder without a numeric prefix or out of prefix order.
 */
export async function readSqlTree(dir: string = SQL_DIR): Promise<TreeFile[]> {
  const order = (await readFile(join(dir, ORDER_FILE), "utf8"))
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  const onDisk = new Set(await sqlFilesUnder(dir));
  const problems: string[] = [];
  const seen = new Set<string>();
  let lastPrefix = -1;
  for (const path of order) {
    if (seen.has(path)) problems.push(`${path} is listed twice`);
    seen.add(path);
    if (!onDisk.has(path)) problems.push(`${path} is listed but does not exist`);
    const prefix = /^(\d{2})_[a-z0-9_]+\//.exec(path);
    if (!prefix) problems.push(`${path}: folders are named NN_name`);
    else if (Number(prefix[1]) < lastPrefix) problems.push(`${path} is listed after a later folder`);
    else lastPrefix = Number(prefix[1]);
  }
  for (const path of onDisk) if (!seen.has(path)) problems.push(`${path} is not listed in ${ORDER_FILE}`);
  if (problems.length) throw new SqlTreeError(`sql/${ORDER_FILE}: ${problems.join("; ")}`);
  return await Promise.all(
    order.map(async (path) => ({ path, sql: await readFile(join(dir, path), "utf8") })),
  );
}

/**
 * The post-migration steps that hold after the tree: those in effect at the latest migration of
 * `migrationsDir`, the same ones the runner runs at the end of every run on an up-to-date schema.
 */
export async function stepsAfterTree(migrationsDir: string = MIGRATIONS_DIR): Promise<PostMigrationStep[]> {
  const latest = Math.max(0, ...(await loadMigrations(migrationsDir)).map((m) => m.version));
  return stepsInEffect(await loadPostMigrationSteps(migrationsDir), latest);
}

/** The function a tree file defines (its file name), or null for tables, indexes and triggers. */
export function functionOfFile(file: TreeFile): string | null {
  return /^\s*CREATE OR REPLACE FUNCTION\s/im.test(file.sql)
    ? file.path.replace(/^.*\//, "").replace(/\.sql$/, "")
    : null;
}

/**
 * Install the tree into a new or empty schema, in one transaction, the way the runner runs a
 * migration (search_path pinned to the schema, so `SET search_path FROM CURRENT` captures it),
 * followed by the post-migration steps of `migrationsDir` (stepsAfterTree), as the runner follows
 * a migration with them. The runner's schema_migrations table is created first
 * (applied_migration_versions reads it); nothing is recorded in it: a fresh install from the tree
 * is for comparison, not for upgrades.
 */
export async function installSqlTree(
  db: pg.Pool,
  schema: string,
  dir: string = SQL_DIR,
  migrationsDir: string = MIGRATIONS_DIR,
): Promise<void> {
  const files = await readSqlTree(dir);
  const steps = await stepsAfterTree(migrationsDir);
  const quoted = quoteSchema(schema);
  await withClient(db, async (client) => {
    await inSchemaTransaction(client, schema, `installing sql/ into schema ${schema} failed`, async () => {
      await ensureTrackingTable(client, quoted);
      for (const file of files) {
        try {
          await client.query(file.sql);
        } catch (error) {
          throw new SqlTreeError(`sql/${file.path}: ${(error as Error).message}`, { cause: error });
        }
      }
      for (const step of steps) {
        try {
          await client.query(step.sql);
        } catch (error) {
          throw new SqlTreeError(`migrations/${step.file} after sql/: ${(error as Error).message}`, {
            cause: error,
          });
        }
      }
    });
  });
}
