/**
 * The options every database command takes, and small argument parsers that turn a bad value
 * into a usage error naming the flag.
 */
import { type Command, InvalidArgumentError } from "commander";
import { EXIT_CODES_HELP } from "./io.ts";

export interface ConnectionFlags {
  databaseUrl?: string;
  schema: string;
  connectTimeoutMs: number;
  /** 0: no limit. */
  queryTimeoutMs: number;
}

export interface OutputFlags {
  json: boolean;
}

export const DEFAULT_SCHEMA = "public";
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_QUERY_TIMEOUT_MS = 30_000;

/** An integer flag value of at least `min`. */
export function integerArg(flag: string, min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isInteger(n) || n < min) {
      throw new InvalidArgumentError(`${flag} must be an integer >= ${min} (got "${value}")`);
    }
    return n;
  };
}

/** An ISO 8601 date/time flag value, as epoch milliseconds. */
export function isoTimeArg(flag: string): (value: string) => number {
  return (value) => {
    const ms = Date.parse(value);
    if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(ms)) {
      throw new InvalidArgumentError(`${flag} must be an ISO 8601 date or time, e.g. 2026-01-31T00:00:00Z`);
    }
    return ms;
  };
}

/**
 * Add --database-url, --schema, the timeouts and --json to a command, and the exit codes to its
 * help. `queryTimeoutMs` is the default call timeout (0 for commands whose work may take long).
 */
export function withDatabaseOptions(command: Command, queryTimeoutMs = DEFAULT_QUERY_TIMEOUT_MS): Command {
  return command
    .option("--database-url <url>", "PostgreSQL connection string (default: $DATABASE_URL)")
    .option("--schema <name>", "schema holding the store", DEFAULT_SCHEMA)
    .option(
      "--connect-timeout-ms <ms>",
      "fail if the server has not accepted the connection and login within this time",
      integerArg("--connect-timeout-ms", 1),
      DEFAULT_CONNECT_TIMEOUT_MS,
    )
    .option(
      "--query-timeout-ms <ms>",
      "fail if the server does not answer a call within this time (0: no limit)",
      integerArg("--query-timeout-ms", 0),
      queryTimeoutMs,
    )
    .option("--json", "print JSON for scripts instead of tables", false)
    .addHelpText("after", EXIT_CODES_HELP);
}
