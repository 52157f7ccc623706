/**
 * Connecting for a command: the URL from the flags or DATABASE_URL, a small pool that never waits
 * forever (connect timeout, per-call timeout), a check that the schema holds a store the connected
 * role may use, and database errors turned into messages that say what to do.
 */
import pg from "pg";
import { PostgresProvider } from "../provider/postgres-provider.ts";
import type { ProviderAdmin } from "../provider/types.ts";
import { Client } from "../runtime/client.ts";
import { type CliIo, CommandFailure, UsageError } from "./io.ts";
import type { ConnectionFlags } from "./options.ts";

export const CLI_APPLICATION_NAME = "pg-durable-cli";

export function databaseUrl(flags: ConnectionFlags, io: CliIo): string {
  const url = flags.databaseUrl ?? io.env.DATABASE_URL;
  if (!url) throw new UsageError("no database given: pass --database-url or set DATABASE_URL");
  return url;
}

/** "host:port" of a URL for messages (never the password); "the server" when it cannot be parsed. */
export function serverLabel(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname || "localhost"}:${parsed.port || "5432"}`;
  } catch {
    return "the server";
  }
}

function userOf(url: string): string {
  try {
    return decodeURIComponent(new URL(url).username) || "(default user)";
  } catch {
    return "(default user)";
  }
}

/**
 * The pool's client config. Only client-side timeouts: a `statement_timeout` startup parameter
 * would be refused by PgBouncer, and the CLI must work through one.
 */
export function clientConfig(flags: ConnectionFlags, url: string): pg.PoolConfig {
  return {
    connectionString: url,
    max: 4,
    connectionTimeoutMillis: flags.connectTimeoutMs,
    ...(flags.queryTimeoutMs > 0 ? { query_timeout: flags.queryTimeoutMs } : {}),
    application_name: CLI_APPLICATION_NAME,
  };
}

/** A message for a database error that says what went wrong and what to check. */
export function describeDatabaseError(error: unknown, url: string, flags: ConnectionFlags): string {
  let inner: unknown = error;
  // ProviderError and MigrationError wrap the driver's error; its code says more.
  while (inner instanceof Error && inner.cause !== undefined && !(inner as { code?: unknown }).code) {
    inner = inner.cause;
  }
  const code = (inner as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const server = serverLabel(url);
  if (code === "28P01" || code === "28000") {
    return `authentication failed for user "${userOf(url)}" on ${server}: check the user and password in the database URL (${(inner as Error).message})`;
  }
  if (code === "ECONNREFUSED")
    return `cannot connect to ${server}: connection refused (is PostgreSQL running there?)`;
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return `cannot connect to ${server}: unknown host`;
  if (/timeout exceeded when trying to connect|connection timeout/i.test(message)) {
    return (
      `no answer from ${server} within ${flags.connectTimeoutMs} ms (--connect-timeout-ms): ` +
      "the server did not complete the connection and login in time (wrong port, a firewall, or an overloaded server)"
    );
  }
  if (/Query read timeout/i.test(message)) {
    return `the server did not answer a call within ${flags.queryTimeoutMs} ms (--query-timeout-ms)`;
  }
  return message;
}

/** Open a pool and prove it works with one round trip; errors explained, the pool closed on failure. */
export async function openPool(flags: ConnectionFlags, url: string): Promise<pg.Pool> {
  const pool = new pg.Pool(clientConfig(flags, url));
  // An idle connection dying would otherwise be an unhandled 'error' event.
  pool.on("error", () => {});
  try {
    await pool.query("SELECT 1");
    return pool;
  } catch (error) {
    await pool.end().catch(() => {});
    throw new CommandFailure(describeDatabaseError(error, url, flags), { cause: error });
  }
}

/**
 * Refuse early, with a clear message, a schema that is missing, not migrated, or not usable by
 * the connected role. Reads only the catalogs, so it works for a least-privilege runtime role.
 */
export async function requireStore(pool: pg.Pool, schema: string): Promise<void> {
  const { rows } = await pool.query<{ exists: boolean; migrated: boolean; usage: boolean; role: string }>(
    `SELECT n.oid IS NOT NULL AS exists,
            EXISTS (SELECT 1 FROM pg_proc p WHERE p.pronamespace = n.oid AND p.proname = 'list_instances') AS migrated,
            n.oid IS NOT NULL AND has_schema_privilege(n.oid, 'USAGE') AS usage,
            current_user AS role
       FROM (SELECT $1::text AS name) s
       LEFT JOIN pg_namespace n ON n.nspname = s.name`,
    [schema],
  );
  const row = rows[0]!;
  if (!row.exists) {
    throw new CommandFailure(
      `schema "${schema}" does not exist: create the store with \`pg-durable migrate --schema ${schema}\``,
    );
  }
  if (!row.migrated) {
    throw new CommandFailure(
      `schema "${schema}" holds no pg-durable store (its functions are missing): run \`pg-durable migrate --schema ${schema}\``,
    );
  }
  if (!row.usage) {
    throw new CommandFailure(
      `role "${row.role}" may not use schema "${schema}": grant it with ` +
        `\`pg-durable migrate --schema ${schema} --grant-runtime-role ${row.role}\` (as the schema's owner)`,
    );
  }
}

/** What a store command works with. */
export interface Store {
  pool: pg.Pool;
  provider: PostgresProvider;
  client: Client;
  admin: ProviderAdmin;
  schema: string;
}

/** Connect, check the schema, run `fn` on the store, and always close everything. */
export async function withStore<T>(
  flags: ConnectionFlags,
  io: CliIo,
  fn: (store: Store) => Promise<T>,
): Promise<T> {
  const url = databaseUrl(flags, io);
  const pool = await openPool(flags, url);
  let provider: PostgresProvider | null = null;
  try {
    await requireStore(pool, flags.schema);
    // No long polling: the CLI never waits for work, so it needs no LISTEN connection. create()
    // also refuses a schema behind this package and warns about one ahead of it.
    provider = await PostgresProvider.create({
      pool,
      schema: flags.schema,
      longPoll: false,
      logger: { warn: (message) => io.err(`warning: ${message}`) },
    });
    return await fn({
      pool,
      provider,
      client: new Client(provider),
      admin: provider.asManagementCapability(),
      schema: flags.schema,
    });
  } catch (error) {
    if (error instanceof CommandFailure || error instanceof UsageError) throw error;
    throw new CommandFailure(describeDatabaseError(error, url, flags), { cause: error });
  } finally {
    await provider?.close().catch(() => {});
    await pool.end().catch(() => {});
  }
}

/** Connect (no schema check), run `fn` on the pool, and always close it. */
export async function withPool<T>(
  flags: ConnectionFlags,
  io: CliIo,
  fn: (pool: pg.Pool, url: string) => Promise<T>,
): Promise<T> {
  const url = databaseUrl(flags, io);
  const pool = await openPool(flags, url);
  try {
    return await fn(pool, url);
  } catch (error) {
    if (error instanceof CommandFailure || error instanceof UsageError) throw error;
    throw new CommandFailure(describeDatabaseError(error, url, flags), { cause: error });
  } finally {
    await pool.end().catch(() => {});
  }
}
