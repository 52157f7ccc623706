/**
 * The start-up check of a provider (PostgresProvider.create, Runtime.start): can we connect, is
 * the schema there, and is it migrated as far as this package's migrations? Without it a wrong
 * password or an unmigrated schema "started" fine and the runtime logged warnings forever.
 *
 * The versions come from the schema's applied_migration_versions() (0015), which a runtime role
 * may call (least privilege: EXECUTE on the store's functions, no table access). A schema ahead of
 * the package (migrated by a newer release) only earns a warning: its functions are a superset.
 */
import type pg from "pg";
import { loadMigrations, quoteSchema } from "../migrate/migrations.ts";

export type NotReadyReason =
  | "credentials"
  | "unreachable"
  | "timeout"
  | "database"
  | "schema-missing"
  | "schema-behind"
  | "permission"
  | "other";

/** The store cannot be used as configured; `reason` says why, the message says what to do. */
export class StoreNotReadyError extends Error {
  override readonly name = "StoreNotReadyError";

  constructor(
    readonly reason: NotReadyReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Where the pool connects, without the password: "user@host:port/database". */
export function describeTarget(options: pg.PoolConfig): string {
  let { user, host, port, database } = options;
  if (options.connectionString) {
    try {
      const url = new URL(options.connectionString);
      user ??= decodeURIComponent(url.username) || undefined;
      host ??= url.hostname || undefined;
      port ??= url.port ? Number(url.port) : undefined;
      database ??= decodeURIComponent(url.pathname.slice(1)) || undefined;
    } catch {
      // not a URL (a libpq key=value string): name what we know
    }
  }
  return `${user ?? process.env.PGUSER ?? "(default user)"}@${host ?? process.env.PGHOST ?? "localhost"}:${
    port ?? process.env.PGPORT ?? 5432
  }/${database ?? process.env.PGDATABASE ?? "(default database)"}`;
}

/** Turn a failure to open a connection into a StoreNotReadyError that says what went wrong. */
export function connectionFailure(error: unknown, target: string, timeoutMs: number): StoreNotReadyError {
  const { code, message } = error as { code?: unknown; message?: unknown };
  const text = typeof message === "string" ? message : String(error);
  // PgBouncer reports a failed login as 08P01 "SASL authentication failed" (or with PG's text).
  if (code === "28P01" || code === "28000" || /(password|SASL) authentication failed/i.test(text))
    return new StoreNotReadyError(
      "credentials",
      `cannot log in to PostgreSQL as ${target}: ${text} (check the user and password)`,
      { cause: error },
    );
  if (code === "3D000")
    return new StoreNotReadyError("database", `cannot connect to ${target}: ${text}`, { cause: error });
  if (
    typeof code === "string" &&
    ["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ECONNRESET"].includes(code)
  )
    return new StoreNotReadyError("unreachable", `cannot reach PostgreSQL at ${target}: ${text}`, {
      cause: error,
    });
  if (/timeout/i.test(text))
    return new StoreNotReadyError(
      "timeout",
      `PostgreSQL at ${target} did not answer within ${timeoutMs} ms (connectionTimeoutMs): ` +
        "is the host and port right, and is the server up?",
      { cause: error },
    );
  return new StoreNotReadyError("other", `cannot use PostgreSQL at ${target}: ${text}`, { cause: error });
}

/** A connection of `pool` (release it), or a StoreNotReadyError saying why there is none. */
export async function checkConnection(pool: pg.Pool, connectionTimeoutMs: number): Promise<pg.PoolClient> {
  try {
    return await withTimeout(pool.connect(), connectionTimeoutMs);
  } catch (error) {
    throw connectionFailure(error, describeTarget(pool.options), connectionTimeoutMs);
  }
}

export interface SchemaCheckResult {
  applied: number[];
  /** Applied versions this package does not ship (a newer release migrated the schema). */
  ahead: number[];
}

/**
 * Check that `schema` exists and has every migration this package ships. Throws
 * StoreNotReadyError (connection failures included); returns what is applied otherwise.
 */
export async function checkSchema(
  pool: pg.Pool,
  schema: string,
  connectionTimeoutMs: number,
): Promise<SchemaCheckResult> {
  const target = describeTarget(pool.options);
  const quoted = quoteSchema(schema);
  const packaged = (await loadMigrations()).map((m) => m.version);
  const latest = packaged[packaged.length - 1] ?? 0;
  const run = `pg-durable migrate --schema ${JSON.stringify(schema)}`;
  const client = await checkConnection(pool, connectionTimeoutMs);
  try {
    let applied: number[];
    try {
      const { rows } = await client.query<{ versions: number[] }>(
        `SELECT ${quoted}.applied_migration_versions() AS versions`,
      );
      applied = rows[0]?.versions ?? [];
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === "42501")
        throw new StoreNotReadyError(
          "permission",
          `the role connected as ${target} may not call the functions of schema ${schema}: ` +
            `grant it (${run} --grant-runtime-role <role>)`,
          { cause: error },
        );
      if (code !== "42883" && code !== "3F000") throw error;
      // No such function: no schema, an unmigrated one, or one from before 0015.
      const { rows } = await client.query<{ exists: boolean; tracked: boolean }>(
        "SELECT to_regnamespace($1) IS NOT NULL AS exists, to_regclass($2) IS NOT NULL AS tracked",
        [quoted, `${quoted}.schema_migrations`],
      );
      const found = rows[0];
      if (!found?.exists)
        throw new StoreNotReadyError(
          "schema-missing",
          `schema ${schema} does not exist in ${target}: migrate it (${run}), ` +
            "or create the provider with migrate: true",
          { cause: error },
        );
      if (!found.tracked)
        throw new StoreNotReadyError(
          "schema-missing",
          `schema ${schema} in ${target} has no pg-durable migrations applied: migrate it (${run}), ` +
            "or create the provider with migrate: true",
          { cause: error },
        );
      throw new StoreNotReadyError(
        "schema-behind",
        `schema ${schema} in ${target} is behind this package (which ships migrations up to ` +
          `${pad(latest)}; the schema lacks at least 0015): migrate it (${run})`,
        { cause: error },
      );
    }
    const missing = packaged.filter((v) => !applied.includes(v));
    if (missing.length > 0) {
      throw new StoreNotReadyError(
        "schema-behind",
        `schema ${schema} in ${target} is behind this package: migration${missing.length > 1 ? "s" : ""} ` +
          `${missing.map(pad).join(", ")} not applied: migrate it (${run})`,
      );
    }
    return { applied, ahead: applied.filter((v) => !packaged.includes(v)) };
  } catch (error) {
    if (error instanceof StoreNotReadyError) throw error;
    throw new StoreNotReadyError(
      "other",
      `checking schema ${schema} in ${target} failed: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  } finally {
    client.release();
  }
}

function pad(version: number): string {
  return String(version).padStart(4, "0");
}

/**
 * A pool created by someone else may have no connect timeout (pg's default waits forever on a
 * server that accepts TCP and never answers). The connection, if it ever comes, is released.
 */
async function withTimeout(connecting: Promise<pg.PoolClient>, ms: number): Promise<pg.PoolClient> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`connection timeout after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([connecting, timeout]);
  } catch (error) {
    connecting.then(
      (client) => client.release(),
      () => {},
    );
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
