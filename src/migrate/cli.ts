/**
 * `npm run migrate -- --schema S [--database-url URL] [--status] [--to N]
 *                    [--grant-runtime-role ROLE | --revoke-runtime-role ROLE]`
 *
 * Applies the migrations in migrations/ to one schema, or with --status lists which are applied
 * and which are pending. With --grant-runtime-role it then grants an existing role what a runtime
 * needs on the schema (USAGE, EXECUTE on its functions; see runtime-role.ts); --revoke-runtime-role
 * takes that back. The server comes from --database-url or DATABASE_URL.
 */
import Table from "cli-table3";
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { MigrationError, migrate, migrationStatus } from "./migrations.ts";
import { grantRuntimeRole, revokeRuntimeRole } from "./runtime-role.ts";

interface CliOptions {
  schema: string;
  databaseUrl?: string;
  status: boolean;
  to?: number;
  grantRuntimeRole?: string;
  revokeRuntimeRole?: string;
}

/** Exit codes: 0 ok, 1 a migration failed or was refused, 2 bad usage. */
export async function runMigrateCli(
  argv: readonly string[],
  out = console.log,
  err = console.error,
): Promise<number> {
  const program = new Command()
    .name("npm run migrate --")
    .description("Apply pg-durable's migrations to one schema (each schema is tracked on its own).")
    .requiredOption("--schema <name>", "schema to migrate (created if missing; any name, always quoted)")
    .option("--database-url <url>", "PostgreSQL connection string (default: $DATABASE_URL)")
    .option("--status", "list applied and pending migrations instead of applying them", false)
    .option("--to <version>", "apply migrations up to this version only", (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("--to must be a migration number");
      return n;
    })
    .option(
      "--grant-runtime-role <role>",
      "after migrating, grant this existing role USAGE on the schema and EXECUTE on its functions (no table access); " +
        "run it again after every migration that adds functions",
    )
    .option(
      "--revoke-runtime-role <role>",
      "after migrating, revoke what --grant-runtime-role granted this role on the schema",
    )
    .exitOverride()
    .configureOutput({ writeOut: (s) => out(s.trimEnd()), writeErr: (s) => err(s.trimEnd()) });
  let options: CliOptions;
  try {
    program.parse(argv, { from: "user" });
    options = program.opts<CliOptions>();
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    throw error;
  }
  if (options.grantRuntimeRole !== undefined && options.revokeRuntimeRole !== undefined) {
    err("error: pass --grant-runtime-role or --revoke-runtime-role, not both");
    return 2;
  }
  if (options.status && (options.grantRuntimeRole !== undefined || options.revokeRuntimeRole !== undefined)) {
    err("error: --status only lists migrations; it cannot be combined with a runtime-role option");
    return 2;
  }
  const url = options.databaseUrl ?? process.env.DATABASE_URL;
  if (!url) {
    err("error: no database given: pass --database-url or set DATABASE_URL");
    return 2;
  }
  try {
    if (options.status) {
      const rows = await migrationStatus(url, options.schema);
      const table = new Table({ head: ["version", "name", "state", "applied at"] });
      for (const r of rows) {
        table.push([
          String(r.version).padStart(4, "0"),
          r.name,
          r.applied ? "applied" : "pending",
          r.appliedAt?.toISOString() ?? "",
        ]);
      }
      out(`schema ${options.schema}`);
      out(table.toString());
      const pending = rows.filter((r) => !r.applied).length;
      out(`${rows.length - pending} applied, ${pending} pending`);
      return 0;
    }
    const applied = await migrate(url, options.schema, { toVersion: options.to, log: out });
    out(
      applied.length === 0
        ? `schema ${options.schema} is up to date`
        : `applied ${applied.length} migration(s) to ${options.schema}`,
    );
    if (options.grantRuntimeRole !== undefined) {
      await grantRuntimeRole(url, options.schema, options.grantRuntimeRole);
      out(`granted ${options.grantRuntimeRole} USAGE on ${options.schema} and EXECUTE on its functions`);
    }
    if (options.revokeRuntimeRole !== undefined) {
      await revokeRuntimeRole(url, options.schema, options.revokeRuntimeRole);
      out(`revoked ${options.revokeRuntimeRole}'s USAGE on ${options.schema} and EXECUTE on its functions`);
    }
    return 0;
  } catch (error) {
    err(`error: ${error instanceof MigrationError ? error.message : (error as Error).message}`);
    return 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runMigrateCli(process.argv.slice(2)).then((code) => process.exit(code));
}
