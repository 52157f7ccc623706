/**
 * `pg-durable doctor`: checks a store and the connection to it, each ok / warn / fail: the
 * server, the schema's migrations against the package (checksums), drift of its functions, what
 * a runtime role may execute, whether LISTEN/NOTIFY works here (it does not through PgBouncer
 * in transaction mode), and how far this machine's clock is from the database's (a runtime beyond
 * the bound refuses to take or extend leases, docs/clocks.md). Exit 1 if any check fails.
 */
import { Command } from "commander";
import type pg from "pg";
import { RUNTIME_ROUTINES } from "../../migrate/runtime-role.ts";
import { probeListen } from "../../provider/listen-probe.ts";
import { measureClockSkew } from "../../runtime/clock-guard.ts";
import { resolveOptions } from "../../runtime/options.ts";
import { clientConfig, withPool } from "../connection.ts";
import { compareFunctions, type FunctionDrift } from "../function-drift.ts";
import { EXIT_FAILURE, EXIT_OK, type RunContext } from "../io.ts";
import { aheadWarning, type MigrationRow, migrationLabel, readSchemaMigrations } from "../migration-state.ts";
import { type ConnectionFlags, integerArg, type OutputFlags, withDatabaseOptions } from "../options.ts";
import { printJson, renderTable } from "../output.ts";

type CheckStatus = "ok" | "warn" | "fail";

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
}

interface DoctorFlags extends ConnectionFlags, OutputFlags {
  runtimeRole?: string;
  listenTimeoutMs: number;
  maxClockSkewMs?: number;
}

/** Versions the project is tested on; older ones get a warning, not a failure. */
const TESTED_MIN_SERVER_VERSION_NUM = 150000;

export function doctorCommand(ctx: RunContext): Command {
  const command = new Command("doctor")
    .description(
      "Check the server, the schema's migrations and functions against this package, a runtime role's " +
        "privileges, and whether LISTEN/NOTIFY works on this connection",
    )
    .option(
      "--runtime-role <role>",
      "check that this role may use the schema and execute every function (default: the connected role)",
    )
    .option(
      "--listen-timeout-ms <ms>",
      "how long to wait for the probe notification",
      integerArg("--listen-timeout-ms", 1),
      3000,
    )
    .option(
      "--max-clock-skew-ms <ms>",
      "the skew a runtime tolerates (default: the runtime's default for its default lock timeouts)",
      integerArg("--max-clock-skew-ms", 1),
    );
  withDatabaseOptions(command).action(async (flags: DoctorFlags) => {
    ctx.exitCode = await runDoctor(ctx, flags);
  });
  return command;
}

async function runDoctor(ctx: RunContext, flags: DoctorFlags): Promise<number> {
  return await withPool(flags, ctx.io, async (pool, url) => {
    const checks: Check[] = [];
    const add = (name: string, status: CheckStatus, detail: string) => checks.push({ name, status, detail });
    let migrations: MigrationRow[] | null = null;
    let drift: FunctionDrift | null = null;

    const server = await pool.query<{ version: string; num: number; role: string }>(
      "SELECT current_setting('server_version') AS version, current_setting('server_version_num')::int AS num, current_user AS role",
    );
    const { version, num, role: connectedRole } = server.rows[0]!;
    add(
      "server",
      num >= TESTED_MIN_SERVER_VERSION_NUM ? "ok" : "warn",
      `PostgreSQL ${version}, connected as ${connectedRole}` +
        (num >= TESTED_MIN_SERVER_VERSION_NUM ? "" : " (pg-durable is tested on PostgreSQL 15 and later)"),
    );

    const schemaExists = (
      await pool.query<{ ok: boolean }>(
        "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS ok",
        [flags.schema],
      )
    ).rows[0]!.ok;
    if (!schemaExists) {
      add(
        "schema",
        "fail",
        `schema "${flags.schema}" does not exist: run \`pg-durable migrate --schema ${flags.schema}\``,
      );
    } else {
      migrations = await checkMigrations(pool, flags.schema, add);
      drift = await checkFunctions(pool, flags.schema, migrations, add);
      await checkPrivileges(pool, flags.schema, flags.runtimeRole ?? connectedRole, add);
    }

    const listen = await probeListen(clientConfig(flags, url), { timeoutMs: flags.listenTimeoutMs });
    add(
      "listen",
      listen.works ? "ok" : "warn",
      listen.works
        ? `LISTEN/NOTIFY works: ${listen.detail}`
        : `${listen.detail}; runtimes on this URL fall back to polling (give them a direct connection for LISTEN)`,
    );

    await checkClock(pool, flags.maxClockSkewMs ?? resolveOptions({}).maxClockSkewMs, add);

    const ok = checks.every((c) => c.status !== "fail");
    if (flags.json) {
      printJson(ctx.io, { ok, schema: flags.schema, checks, migrations, functions: drift });
    } else {
      ctx.io.out(
        renderTable(
          ["check", "status", "detail"],
          checks.map((c) => [c.name, c.status, c.detail]),
        ),
      );
      const fails = checks.filter((c) => c.status === "fail").length;
      const warns = checks.filter((c) => c.status === "warn").length;
      ctx.io.out(`${fails} failed, ${warns} warning(s), ${checks.length - fails - warns} ok`);
    }
    return ok ? EXIT_OK : EXIT_FAILURE;
  });
}

type Add = (name: string, status: CheckStatus, detail: string) => void;

function isPermissionDenied(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "42501";
}

async function checkMigrations(pool: pg.Pool, schema: string, add: Add): Promise<MigrationRow[] | null> {
  let state: Awaited<ReturnType<typeof readSchemaMigrations>>;
  try {
    state = await readSchemaMigrations(pool, schema);
  } catch (error) {
    if (!isPermissionDenied(error)) throw error;
    add(
      "migrations",
      "warn",
      "this role may not read schema_migrations: run doctor as the schema's owner to check them",
    );
    return null;
  }
  if (!state.tracked) {
    add(
      "migrations",
      "fail",
      `schema "${schema}" was never migrated: run \`pg-durable migrate --schema ${schema}\``,
    );
    return state.rows;
  }
  const names = (rows: MigrationRow[]) => rows.map((r) => migrationLabel(r.version, r.name)).join(", ");
  const edited = state.rows.filter((r) => r.state === "edited");
  const pending = state.rows.filter((r) => r.state === "pending");
  const applied = state.rows.filter((r) => r.state === "applied");
  if (edited.length > 0) {
    add(
      "migrations",
      "fail",
      `${names(edited)} changed since applied (recorded checksum differs from the packaged file)`,
    );
  }
  const ahead = aheadWarning(schema, state.rows);
  if (ahead) add("migrations", "warn", ahead);
  if (pending.length > 0) {
    add(
      "migrations",
      "warn",
      `${pending.length} pending: ${names(pending)}; run \`pg-durable migrate --schema ${schema}\``,
    );
  }
  if (edited.length === 0 && pending.length === 0 && !ahead) {
    add("migrations", "ok", `all ${applied.length} packaged migrations applied, checksums match`);
  }
  return state.rows;
}

async function checkFunctions(
  pool: pg.Pool,
  schema: string,
  migrations: MigrationRow[] | null,
  add: Add,
): Promise<FunctionDrift | null> {
  if (!migrations) {
    add("functions", "warn", "not checked: the schema's migration version is unknown (see migrations)");
    return null;
  }
  // Compare with the package at the schema's own version: pending migrations are reported above.
  const applied = migrations.filter((r) => r.state !== "pending" && r.packagedChecksum !== null);
  const toVersion = Math.max(0, ...applied.map((r) => r.version));
  if (toVersion === 0) {
    add("functions", "warn", "not checked: no packaged migration is applied");
    return null;
  }
  const canCreate = (
    await pool.query<{ ok: boolean }>("SELECT has_database_privilege(current_database(), 'CREATE') AS ok")
  ).rows[0]!.ok;
  if (!canCreate) {
    add(
      "functions",
      "warn",
      "not checked: comparing needs CREATE on the database for a scratch schema (rolled back)",
    );
    return null;
  }
  const drift = await compareFunctions(pool, schema, toVersion);
  const problems: string[] = [];
  if (drift.missing.length > 0) problems.push(`missing: ${drift.missing.join(", ")}`);
  if (drift.changed.length > 0) {
    problems.push(
      `changed: ${drift.changed.map((c) => `${c.signature} [${c.differences.join(", ")}]`).join("; ")}`,
    );
  }
  if (problems.length > 0) {
    add("functions", "fail", `differ from the package at ${toVersion}: ${problems.join("; ")}`);
  } else {
    add(
      "functions",
      "ok",
      `all ${drift.functionCount} functions match the package at migration ${toVersion}`,
    );
  }
  const ahead = migrations.some((r) => r.state === "unknown");
  if (drift.extra.length > 0) {
    add(
      "functions",
      "warn",
      `not shipped by this package${ahead ? " (the schema is ahead)" : ""}: ${drift.extra.join(", ")}`,
    );
  }
  return drift;
}

async function checkPrivileges(pool: pg.Pool, schema: string, role: string, add: Add): Promise<void> {
  const name = `role ${role}`;
  const exists = (
    await pool.query<{ ok: boolean }>("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS ok", [
      role,
    ])
  ).rows[0]!.ok;
  if (!exists) {
    add(name, "fail", `role "${role}" does not exist`);
    return;
  }
  // The same set of functions --grant-runtime-role grants (RUNTIME_ROUTINES).
  const { rows } = await pool.query<{ usage: boolean; total: number; missing: string[] }>(
    `SELECT has_schema_privilege($2::text, $1::text, 'USAGE') AS usage,
            count(*)::int AS total,
            coalesce(array_agg(p.proname::text ORDER BY p.proname)
                       FILTER (WHERE NOT has_function_privilege($2::text, p.oid, 'EXECUTE')), '{}') AS missing
     ${RUNTIME_ROUTINES}`,
    [schema, role],
  );
  const row = rows[0]!;
  const fix = `grant it with \`pg-durable migrate --schema ${schema} --grant-runtime-role ${role}\``;
  if (!row.usage) add(name, "fail", `has no USAGE on schema "${schema}": ${fix}`);
  else if (row.missing.length > 0) {
    add(
      name,
      "fail",
      `may not execute ${row.missing.length} of ${row.total} functions (${row.missing.join(", ")}): ${fix}`,
    );
  } else add(name, "ok", `may use the schema and execute all ${row.total} functions`);
}

/**
 * This machine's clock against the database's, as a runtime measures it. A runtime started here
 * with the same bound would refuse to take or extend leases while the skew exceeds it.
 */
async function checkClock(pool: pg.Pool, boundMs: number, add: Add): Promise<void> {
  const reading = await measureClockSkew({
    databaseTimeMs: async () => {
      const { rows } = await pool.query<{ now_ms: number }>(
        "SELECT extract(epoch FROM clock_timestamp())::float8 * 1000 AS now_ms",
      );
      return Number(rows[0]!.now_ms);
    },
  });
  if (!reading) return;
  const skew = Math.round(reading.skewMs);
  const uncertainty = Math.ceil(reading.uncertaintyMs);
  const measured = `this clock is ${skew >= 0 ? "ahead of" : "behind"} the database's by ${Math.abs(skew)} ms (±${uncertainty} ms)`;
  // The runtime's rule: beyond the bound even at the near end of the reading's uncertainty.
  if (Math.abs(reading.skewMs) - reading.uncertaintyMs > boundMs) {
    add(
      "clock",
      "fail",
      `${measured}: over the ${boundMs} ms bound, runtimes here would refuse to take leases`,
    );
  } else add("clock", "ok", `${measured}; bound ${boundMs} ms`);
}
