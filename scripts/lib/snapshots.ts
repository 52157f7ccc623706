/**
 * Migrate throw-away schemas and snapshot them: one step by step (a snapshot after every
 * migration) and one in one go. Uses DATABASE_URL, else an embedded PostgreSQL.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { loadMigrations, migrate, quoteSchema } from "../../src/migrate/migrations.ts";
import { startEmbeddedPostgres } from "../../src/testing/embedded-postgres.ts";
import { readSchema, type SchemaSnapshot } from "./catalog.ts";
import { installSqlTree, SQL_DIR } from "./sql-tree.ts";

export interface VersionSnapshots {
  /** Migration version → its file name and the schema right after it (step by step). */
  steps: Map<number, { file: string; sql: string; snapshot: SchemaSnapshot }>;
  /** The schema migrated to the latest version in one call. */
  oneGo: SchemaSnapshot;
  /** An empty schema (before migration 0001). */
  empty: SchemaSnapshot;
}

export async function withDatabase<T>(fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const embedded = process.env.DATABASE_URL ? null : await startEmbeddedPostgres();
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL ?? embedded!.url, max: 2 });
  try {
    return await fn(pool);
  } finally {
    await pool.end();
    await embedded?.stop();
  }
}

/** Run `fn` on a new, uniquely named schema, dropped afterwards. */
export async function withScratchSchema<T>(
  pool: pg.Pool,
  label: string,
  fn: (schema: string) => Promise<T>,
): Promise<T> {
  const schema = `schemadoc_${label}_${randomBytes(4).toString("hex")}`;
  try {
    return await fn(schema);
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS ${quoteSchema(schema)} CASCADE`);
  }
}

/** The schema the sql/ tree gives when installed fresh. */
export async function snapshotTree(pool: pg.Pool, sqlDir: string = SQL_DIR): Promise<SchemaSnapshot> {
  return await withScratchSchema(pool, "tree", async (schema) => {
    await installSqlTree(pool, schema, sqlDir);
    return await readSchema(pool, schema);
  });
}

/** The schema every migration of `migrationsDir` gives, applied by the runner. */
export async function snapshotMigrated(pool: pg.Pool, migrationsDir?: string): Promise<SchemaSnapshot> {
  return await withScratchSchema(pool, "migrated", async (schema) => {
    await migrate(pool, schema, { dir: migrationsDir });
    return await readSchema(pool, schema);
  });
}

export async function snapshotVersions(pool: pg.Pool, upTo?: number): Promise<VersionSnapshots> {
  const tag = randomBytes(4).toString("hex");
  const stepSchema = `schemadoc_steps_${tag}`;
  const oneGoSchema = `schemadoc_onego_${tag}`;
  const migrations = (await loadMigrations()).filter((m) => upTo === undefined || m.version <= upTo);
  try {
    await pool.query(`CREATE SCHEMA ${quoteSchema(stepSchema)}`);
    const empty = await readSchema(pool, stepSchema);
    const steps = new Map<number, { file: string; sql: string; snapshot: SchemaSnapshot }>();
    for (const m of migrations) {
      await migrate(pool, stepSchema, { toVersion: m.version });
      steps.set(m.version, { file: m.file, sql: m.sql, snapshot: await readSchema(pool, stepSchema) });
    }
    await migrate(pool, oneGoSchema, { toVersion: upTo });
    return { steps, oneGo: await readSchema(pool, oneGoSchema), empty };
  } finally {
    for (const s of [stepSchema, oneGoSchema])
      await pool.query(`DROP SCHEMA IF EXISTS ${quoteSchema(s)} CASCADE`);
  }
}
