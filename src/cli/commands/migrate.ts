/**
 * `pg-durable migrate`: apply the packaged migrations to a schema, list their state with
 * --status, and grant or revoke a runtime role.
 */
import { Command } from "commander";
import { loadMigrations, migrate } from "../../migrate/migrations.ts";
import { grantRuntimeRole, revokeRuntimeRole } from "../../migrate/runtime-role.ts";
import { withPool } from "../connection.ts";
import { EXIT_FAILURE, EXIT_OK, type RunContext, UsageError } from "../io.ts";
import { aheadWarning, migrationLabel, readSchemaMigrations } from "../migration-state.ts";
import { type ConnectionFlags, integerArg, type OutputFlags, withDatabaseOptions } from "../options.ts";
import { printJson, renderTable } from "../output.ts";

interface MigrateFlags extends ConnectionFlags, OutputFlags {
  status: boolean;
  to?: number;
  grantRuntimeRole?: string;
  revokeRuntimeRole?: string;
}

export function migrateCommand(ctx: RunContext): Command {
  const command = new Command("migrate")
    .description(
      "Apply pg-durable's migrations to one schema (created if missing; each schema is tracked on its own)",
    )
    .option(
      "--status",
      "list applied, pending, edited and unknown migrations instead of applying them",
      false,
    )
    .option("--to <version>", "apply migrations up to this version only", integerArg("--to", 1))
    .option(
      "--grant-runtime-role <role>",
      "after migrating, grant this existing role USAGE on the schema and EXECUTE on its functions " +
        "(no table access); later migrations grant it their new functions",
    )
    .option(
      "--revoke-runtime-role <role>",
      "after migrating, revoke what --grant-runtime-role granted this role on the schema",
    );
  // Migrations may run long on a big store: no call timeout unless asked for.
  withDatabaseOptions(command, 0).action(async (flags: MigrateFlags) => {
    ctx.exitCode = await runMigrate(ctx, flags);
  });
  return command;
}

async function runMigrate(ctx: RunContext, flags: MigrateFlags): Promise<number> {
  const { io } = ctx;
  if (flags.grantRuntimeRole !== undefined && flags.revokeRuntimeRole !== undefined) {
    throw new UsageError("pass --grant-runtime-role or --revoke-runtime-role, not both");
  }
  const roleOption = flags.grantRuntimeRole !== undefined || flags.revokeRuntimeRole !== undefined;
  if (flags.status && (roleOption || flags.to !== undefined)) {
    throw new UsageError(
      "--status only lists migrations; it cannot be combined with --to or a runtime-role option",
    );
  }
  return await withPool(flags, io, async (pool) => {
    if (flags.status) {
      const state = await readSchemaMigrations(pool, flags.schema);
      const applied = state.rows.filter((r) => r.state === "applied" || r.state === "edited").length;
      const pending = state.rows.filter((r) => r.state === "pending").length;
      const warning = aheadWarning(flags.schema, state.rows);
      if (warning) io.err(`warning: ${warning}`);
      if (flags.json) {
        printJson(io, { schema: flags.schema, applied, pending, migrations: state.rows });
        return EXIT_OK;
      }
      io.out(`schema ${flags.schema}`);
      io.out(
        renderTable(
          ["version", "name", "state", "applied at"],
          state.rows.map((r) => [String(r.version).padStart(4, "0"), r.name, r.state, r.appliedAt]),
        ),
      );
      io.out(`${applied} applied, ${pending} pending`);
      return state.rows.some((r) => r.state === "edited") ? EXIT_FAILURE : EXIT_OK;
    }

    const warnings: string[] = [];
    const warn = (text: string) => {
      warnings.push(text);
      io.err(`warning: ${text}`);
    };
    const packaged = await loadMigrations();
    const last = packaged[packaged.length - 1];
    if (flags.to !== undefined && last && flags.to > last.version) {
      warn(
        `--to ${flags.to} is past the last migration this package ships (${migrationLabel(last.version, last.name)}); ` +
          "applying all of them",
      );
    }
    const before = aheadWarning(flags.schema, (await readSchemaMigrations(pool, flags.schema)).rows);
    if (before) warn(before);
    // In JSON mode stdout carries only the JSON document: progress goes to stderr.
    const log = flags.json ? io.err : io.out;
    const applied = await migrate(pool, flags.schema, { toVersion: flags.to, log });
    log(
      applied.length === 0
        ? `schema ${flags.schema} is up to date`
        : `applied ${applied.length} migration(s) to ${flags.schema}`,
    );
    if (flags.grantRuntimeRole !== undefined) {
      await grantRuntimeRole(pool, flags.schema, flags.grantRuntimeRole);
      log(`granted ${flags.grantRuntimeRole} USAGE on ${flags.schema} and EXECUTE on its functions`);
    }
    if (flags.revokeRuntimeRole !== undefined) {
      await revokeRuntimeRole(pool, flags.schema, flags.revokeRuntimeRole);
      log(`revoked ${flags.revokeRuntimeRole}'s USAGE on ${flags.schema} and EXECUTE on its functions`);
    }
    if (flags.json) {
      printJson(io, {
        schema: flags.schema,
        applied,
        upToDate: applied.length === 0,
        grantedRole: flags.grantRuntimeRole ?? null,
        revokedRole: flags.revokeRuntimeRole ?? null,
        warnings,
      });
    }
    return EXIT_OK;
  });
}
