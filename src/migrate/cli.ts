/**
 * `npm run migrate -- --schema S [--database-url URL] [--status] [--to N]
 *                    [--grant-runtime-role ROLE | --revoke-runtime-role ROLE]`
 *
 * Kept for `npm run migrate`: a thin wrapper that runs `pg-durable migrate` (src/cli) with the
 * same flags, so both behave the same. See docs/cli.md.
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { runCli } from "../cli/main.ts";

/** Exit codes: 0 ok, 1 a migration failed or was refused, 2 bad usage. */
export async function runMigrateCli(
  argv: readonly string[],
  out: (line: string) => void = console.log,
  err: (line: string) => void = console.error,
): Promise<number> {
  return await runCli(["migrate", ...argv], { out, err, env: process.env });
}

const script = process.argv[1];
if (script && realpathSync(script) === fileURLToPath(import.meta.url)) {
  runMigrateCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
