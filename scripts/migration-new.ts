/**
 * Scaffold the next migration from the sql/ tree (see scripts/lib/scaffold.ts).
 *
 *   npm run migration:new -- <name>            write migrations/NNNN_<name>.sql
 *   npm run migration:new -- <name> --print    print it, write nothing
 *
 * Uses DATABASE_URL, else an embedded PostgreSQL. Exit codes: 0 written, 1 nothing to scaffold or
 * an error, 2 usage.
 */
import { access, writeFile } from "node:fs/promises";
import { relative } from "node:path";
import { Command, CommanderError } from "commander";
import { ScaffoldError, scaffoldMigration } from "./lib/scaffold.ts";
import { withDatabase } from "./lib/snapshots.ts";

async function run(
  name: string,
  flags: { print?: boolean; sqlDir?: string; migrationsDir?: string },
): Promise<number> {
  const scaffold = await withDatabase((pool) =>
    scaffoldMigration(pool, { name, sqlDir: flags.sqlDir, migrationsDir: flags.migrationsDir }),
  );
  if (flags.print) {
    process.stdout.write(scaffold.content);
    return 0;
  }
  if (
    await access(scaffold.file).then(
      () => true,
      () => false,
    )
  )
    throw new ScaffoldError(`${scaffold.file} exists already`);
  await writeFile(scaffold.file, scaffold.content, { flag: "wx" });
  console.log(
    `wrote ${relative(process.cwd(), scaffold.file)}: ${scaffold.changedFiles.length} function file(s), ` +
      `${scaffold.dropped.length} DROP(s), ${scaffold.byHand.length} object(s) to write by hand`,
  );
  console.log("fill in its header, review it, then run npm run schema:generate and npm run schema:check");
  return 0;
}

async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = new Command()
    .name("npm run migration:new --")
    .description("Scaffold migrations/NNNN_<name>.sql from the functions whose sql/ files changed.")
    .argument("<name>", "the migration's name, e.g. ack_named_fields")
    .option("--print", "print the migration instead of writing it")
    .option("--sql-dir <dir>", "the sql/ tree (default: the repository's)")
    .option("--migrations-dir <dir>", "the migrations folder (default: the repository's)")
    .exitOverride()
    .action(async (name: string, flags: { print?: boolean; sqlDir?: string; migrationsDir?: string }) => {
      code = await run(name, flags);
    });
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof ScaffoldError) {
      console.error(`✗ ${error.message}`);
      return 1;
    }
    throw error;
  }
  return code;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
