/**
 * What a CLI run talks to (so tests can run it in-process) and how it ends: exit codes and the
 * two kinds of error a command throws to end with one.
 */

/** Exit codes of every pg-durable command. */
export const EXIT_OK = 0;
/** The command ran and failed: database unreachable, instance not found, a check failed, … */
export const EXIT_FAILURE = 1;
/** The command line was wrong: unknown flag, missing argument, malformed JSON, no database given. */
export const EXIT_USAGE = 2;

export const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  failure (cannot connect, wrong password, schema not migrated, instance not found, a check failed)
  2  usage error (unknown flag, missing or invalid argument, malformed JSON, no database given)`;

export interface CliIo {
  /** One line (or block) of normal output, stdout. */
  out(text: string): void;
  /** Errors, warnings and progress, stderr: `--json` output on stdout stays parseable. */
  err(text: string): void;
  /** Where DATABASE_URL is read from. */
  env: Record<string, string | undefined>;
}

export function processIo(): CliIo {
  return {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    env: process.env,
  };
}

/** The command line is wrong: printed as `error: …`, exit 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** The command failed for a reason already explained in the message: printed as `error: …`, exit 1. */
export class CommandFailure extends Error {
  override readonly name = "CommandFailure";
}

/** Shared by the commands of one run: where to write, and the exit code an action decided on. */
export interface RunContext {
  io: CliIo;
  exitCode: number;
}
