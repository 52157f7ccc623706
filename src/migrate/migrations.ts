/**
 * The schema-aware migration runner.
 *
 * Applies `migrations/NNNN_name.sql` in order to one schema, each in its own transaction with
 * `search_path` set to that schema, and records it (with a SHA-256 checksum) in the schema's own
 * `schema_migrations` table. Many schemas per database are tracked independently; concurrent
 * runners on the same schema serialise on a transaction-scoped advisory lock keyed by the schema
 * name, taken first in each migration's transaction, under which the applied set is read again;
 * an applied migration whose file changed since is refused. The post-migration steps of
 * `migrations/post-migration/` run in the transaction of every migration from their version on and
 * once at the end of every run (see loadPostMigrationSteps).
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "migrations");

export interface Migration {
  version: number;
  name: string;
  file: string;
  sql: string;
  checksum: string;
}

export interface MigrationStatus {
  version: number;
  name: string;
  applied: boolean;
  appliedAt: Date | null;
}

export class MigrationError extends Error {
  override readonly name = "MigrationError";
}

const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/**
 * A post-migration step: SQL that must hold after every migration, not just once. Declared by
 * putting a file in `migrations/post-migration/` whose first line is
 * `-- post-migration step, from migration NNNN on`. The rule, applied by the runner (and mimicked
 * by `pg-durable doctor`'s drift check through stepsInEffect): once a schema is at version NNNN or
 * later, the step runs in the transaction of every migration applied to it, right after that
 * migration's SQL, and once more at the end of every run (to repair what was changed by hand).
 * A step must be idempotent and cheap when nothing needs fixing. It is not a migration: it has no
 * checksum and says what holds today, so it may be edited. The one step today is least privilege
 * (docs/migrations.md): a later `CREATE OR REPLACE FUNCTION` silently resets SECURITY DEFINER and a
 * new function starts executable by PUBLIC, and running the step after every migration keeps every
 * schema right by construction, in the same commit as the change, whoever wrote the migration.
 */
export interface PostMigrationStep {
  file: string;
  /** The version from which the step is in effect. */
  fromVersion: number;
  sql: string;
}

export const POST_MIGRATION_DIR = "post-migration";

const STEP_DECLARATION = /^-- post-migration step, from migration (\d{4}) on\r?\n/;

/** Read the post-migration steps declared in `<dir>/post-migration/`, ordered by file name. */
export async function loadPostMigrationSteps(dir: string = MIGRATIONS_DIR): Promise<PostMigrationStep[]> {
  const stepsDir = join(dir, POST_MIGRATION_DIR);
  const files = (await readdir(stepsDir).catch(() => [] as string[]))
    .filter((f) => f.endsWith(".sql"))
    .sort();
  const steps: PostMigrationStep[] = [];
  for (const file of files) {
    const sql = await readFile(join(stepsDir, file), "utf8");
    const declared = STEP_DECLARATION.exec(sql);
    if (!declared) {
      throw new MigrationError(
        `${POST_MIGRATION_DIR}/${file} must start with the line "-- post-migration step, from migration NNNN on"`,
      );
    }
    steps.push({ file: `${POST_MIGRATION_DIR}/${file}`, fromVersion: Number(declared[1]), sql });
  }
  return steps;
}

/** The steps in effect on a schema at `version`. */
export function stepsInEffect(steps: PostMigrationStep[], version: number): PostMigrationStep[] {
  return steps.filter((step) => step.fromVersion <= version);
}

/** Read every migration file, ordered by version. */
export async function loadMigrations(dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".sql")).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = FILE_PATTERN.exec(file);
    if (!match) throw new MigrationError(`migration file name must look like 0001_name.sql: ${file}`);
    const sql = await readFile(join(dir, file), "utf8");
    migrations.push({
      version: Number(match[1]),
      name: match[2]!,
      file,
      sql,
      checksum: createHash("sha256").update(sql).digest("hex"),
    });
  }
  const versions = new Set<number>();
  for (const m of migrations) {
    if (versions.has(m.version)) throw new MigrationError(`duplicate migration version ${m.version}`);
    versions.add(m.version);
  }
  return migrations;
}

/**
 * Check a schema name and return it quoted for SQL. Any name Postgres accepts is allowed (quotes,
 * semicolons, unicode…); it is always quoted, never interpolated raw.
 */
export function quoteSchema(schema: string): string {
  if (typeof schema !== "string" || schema.length === 0)
    throw new MigrationError("schema name must not be empty");
  if (schema.includes("\0")) throw new MigrationError("schema name must not contain NUL");
  if (Buffer.byteLength(schema, "utf8") > 63) {
    throw new MigrationError(`schema name is longer than 63 bytes (Postgres would truncate it): ${schema}`);
  }
  return pg.escapeIdentifier(schema);
}

export interface MigrateOptions {
  dir?: string;
  /** Apply only migrations up to and including this version. */
  toVersion?: number;
  log?: (line: string) => void;
}

export type Queryable = pg.Pool | pg.Client | string;

/** How long opening a connection from a URL may take (a server that never answers would hang). */
export const CONNECT_TIMEOUT_MS = 10_000;

/** Run `fn` on a client of `db`: a new connection for a URL, one borrowed from a pool, or the client itself. */
export async function withClient<T>(db: Queryable, fn: (client: pg.ClientBase) => Promise<T>): Promise<T> {
  if (typeof db === "string") {
    const client = new pg.Client({ connectionString: db, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  }
  if (db instanceof pg.Pool) {
    const client = await db.connect();
    try {
      return await fn(client);
    } finally {
      client.release();
    }
  }
  return await fn(db);
}

export async function ensureTrackingTable(client: pg.ClientBase, quoted: string): Promise<void> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${quoted}.schema_migrations (
       version    integer PRIMARY KEY,
       name       text NOT NULL,
       checksum   text NOT NULL,
       applied_at timestamptz NOT NULL DEFAULT clock_timestamp()
     )`,
  );
}

async function appliedRows(client: pg.ClientBase, quoted: string) {
  const { rows } = await client.query<{ version: number; name: string; checksum: string; applied_at: Date }>(
    `SELECT version, name, checksum, applied_at FROM ${quoted}.schema_migrations ORDER BY version`,
  );
  return new Map(rows.map((r) => [r.version, r]));
}

/**
 * Take the schema's migration lock for the rest of the current transaction: migration runs (and
 * runtime-role grants) on one schema wait their turn.
 *
 * Transaction-scoped on purpose: a session lock (pg_advisory_lock … unlock) behind a pooler in
 * transaction mode (PgBouncer) is taken on whichever server connection runs that statement, and the
 * unlock may run on another one, leaving the lock held on a pooled connection for good. An xact
 * lock is released by the COMMIT or ROLLBACK of the transaction that took it, wherever it ran.
 */
export async function lockSchemaInTransaction(client: pg.ClientBase, schema: string): Promise<void> {
  await client.query("SELECT pg_advisory_xact_lock(hashtextextended('pg-durable:migrate:' || $1, 0))", [
    schema,
  ]);
}

function checksumMismatch(m: Migration, recorded: string, schema: string): MigrationError {
  return new MigrationError(
    `migration ${m.file} was edited after it was applied to schema ${schema} ` +
      `(checksum ${recorded.slice(0, 12)}… recorded, ${m.checksum.slice(0, 12)}… on disk); ` +
      "applied migrations are immutable: add a new migration instead",
  );
}

/** Apply pending migrations to `schema`. Returns the versions applied by this call. */
export async function migrate(
  db: Queryable,
  schema: string,
  options: MigrateOptions = {},
): Promise<number[]> {
  const quoted = quoteSchema(schema);
  const all = await loadMigrations(options.dir);
  const steps = await loadPostMigrationSteps(options.dir);
  const migrations = all.filter((m) => options.toVersion === undefined || m.version <= options.toVersion);
  return await withClient(db, async (client) => {
    // Every step is one transaction that takes the lock first and reads what is applied under it:
    // a concurrent runner may have applied anything between two of our transactions.
    let applied = new Map<number, { checksum: string }>();
    await inSchemaTransaction(
      client,
      schema,
      `preparing schema ${schema} for migrations failed`,
      async () => {
        await ensureTrackingTable(client, quoted);
        applied = await appliedRows(client, quoted);
        // Refuse an edited migration before applying anything.
        for (const m of migrations) {
          const row = applied.get(m.version);
          if (row && row.checksum !== m.checksum) throw checksumMismatch(m, row.checksum, schema);
        }
      },
    );
    const done: number[] = [];
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      let appliedHere = false;
      await inSchemaTransaction(
        client,
        schema,
        `migration ${m.file} failed on schema ${schema}`,
        async () => {
          appliedHere = false;
          const row = (await appliedRows(client, quoted)).get(m.version);
          if (row) {
            if (row.checksum !== m.checksum) throw checksumMismatch(m, row.checksum, schema);
            return; // a concurrent runner applied it while we waited for the lock
          }
          await client.query(m.sql);
          // E.g. keep what this migration created or replaced SECURITY DEFINER, in the same commit.
          for (const step of stepsInEffect(steps, m.version)) await client.query(step.sql);
          await client.query(
            `INSERT INTO ${quoted}.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)`,
            [m.version, m.name, m.checksum],
          );
          appliedHere = true;
        },
      );
      if (appliedHere) {
        options.log?.(`applied ${m.file} to ${schema}`);
        done.push(m.version);
      }
    }
    // Also repair what was changed outside the runner (a function replaced by hand). Read-only
    // when nothing needs fixing, so a start-up `migrate: true` does not churn the catalog.
    if (steps.length > 0) {
      await inSchemaTransaction(
        client,
        schema,
        `post-migration steps failed on schema ${schema}`,
        async () => {
          const version = Math.max(0, ...(await appliedRows(client, quoted)).keys());
          for (const step of stepsInEffect(steps, version)) await client.query(step.sql);
        },
      );
    }
    return done;
  });
}

/**
 * A migration applied while runtimes work on the schema can lose a deadlock against them (e.g.
 * CREATE TRIGGER locking queue tables one after another while acks write to them); Postgres then
 * rolls the whole migration back, so running it again is safe.
 */
const LOST_RACE_SQLSTATES = new Set(["40P01", "40001"]); // deadlock, serialization failure
const MAX_LOST_RACES = 20;

/**
 * Run `fn` in a transaction that first takes the schema's migration lock and sets search_path to
 * the schema; on a lost race (deadlock) run it again; on any other error roll back and throw a
 * MigrationError: `failure` plus the cause (a MigrationError thrown by `fn` is passed on as is).
 */
export async function inSchemaTransaction(
  client: pg.ClientBase,
  schema: string,
  failure: string,
  fn: () => Promise<void>,
): Promise<void> {
  const quoted = quoteSchema(schema);
  for (let attempt = 0; ; attempt++) {
    await client.query("BEGIN");
    try {
      await lockSchemaInTransaction(client, schema);
      // Functions declare `SET search_path FROM CURRENT`, capturing this: they always resolve
      // names in their own schema, whatever the caller's search_path (pg_temp last, for safety).
      await client.query(`SET LOCAL search_path TO ${quoted}, pg_temp`);
      await fn();
      await client.query("COMMIT");
      return;
    } catch (error) {
      await client.query("ROLLBACK");
      if (error instanceof MigrationError) throw error;
      const code = (error as { code?: unknown }).code;
      if (typeof code === "string" && LOST_RACE_SQLSTATES.has(code) && attempt < MAX_LOST_RACES) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(20 * 2 ** attempt, 1000)));
        continue;
      }
      const message = error instanceof Error ? error.message : String(error);
      throw new MigrationError(`${failure}: ${message}`, { cause: error });
    }
  }
}

/** Every migration on disk with whether (and when) it was applied to `schema`. */
export async function migrationStatus(
  db: Queryable,
  schema: string,
  dir?: string,
): Promise<MigrationStatus[]> {
  const quoted = quoteSchema(schema);
  const migrations = await loadMigrations(dir);
  return await withClient(db, async (client) => {
    const exists = await client.query("SELECT to_regclass($1) IS NOT NULL AS ok", [
      `${quoted}.schema_migrations`,
    ]);
    const applied = exists.rows[0]?.ok ? await appliedRows(client, quoted) : new Map();
    return migrations.map((m) => ({
      version: m.version,
      name: m.name,
      applied: applied.has(m.version),
      appliedAt: applied.get(m.version)?.applied_at ?? null,
    }));
  });
}
