#!/usr/bin/env node
/**
 * `pg-durable`: the command-line tool. One program with subcommands (migrate, instances, prune,
 * queues, doctor, stress, dashboard); each has --help, a table for people and --json for scripts, and exits
 * 0 (ok), 1 (failure) or 2 (usage). See docs/cli.md.
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Command, CommanderError } from "commander";
import { PROVIDER_VERSION } from "../provider/postgres-provider.ts";
import { dashboardCommand } from "./commands/dashboard.ts";
import { doctorCommand } from "./commands/doctor.ts";
import { instancesCommand } from "./commands/instances.ts";
import { migrateCommand } from "./commands/migrate.ts";
import { pruneCommand } from "./commands/prune.ts";
import { queuesCommand } from "./commands/queues.ts";
import { stressCommand } from "./commands/stress.ts";
import {
  type CliIo,
  EXIT_CODES_HELP,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  processIo,
  type RunContext,
  UsageError,
} from "./io.ts";

/** Commander's settings for a command and, recursively, its subcommands. */
function configure(command: Command, io: CliIo): void {
  command
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .showHelpAfterError("(add --help for usage)");
  for (const sub of command.commands) configure(sub, io);
}

export function buildProgram(ctx: RunContext): Command {
  const program = new Command("pg-durable")
    .description("Operate a pg-durable store: migrate it, inspect and manage instances, check its health")
    .version(PROVIDER_VERSION, "-V, --version")
    .enablePositionalOptions() // lets `stress` take every flag after it as its own
    .addHelpText("after", `${EXIT_CODES_HELP}\n\nDocumentation: docs/cli.md`);
  program.addCommand(migrateCommand(ctx));
  program.addCommand(instancesCommand(ctx));
  program.addCommand(pruneCommand(ctx));
  program.addCommand(queuesCommand(ctx));
  program.addCommand(doctorCommand(ctx));
  program.addCommand(stressCommand(ctx));
  program.addCommand(dashboardCommand(ctx));
  configure(program, ctx.io);
  return program;
}

/** Run the CLI on `argv` (without node and the script) and return its exit code. */
export async function runCli(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const ctx: RunContext = { io, exitCode: EXIT_OK };
  const program = buildProgram(ctx);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return ctx.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    if (error instanceof UsageError) {
      io.err(`error: ${error.message}`);
      return EXIT_USAGE;
    }
    io.err(`error: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT_FAILURE;
  }
}

/** True when this file is the program node started (also through npm's bin symlink). */
function isMain(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isMain()) {
  // `pg-durable … | head` closes stdout early: stop quietly instead of crashing on EPIPE.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? EXIT_OK);
    throw error;
  });
  runCli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = EXIT_FAILURE;
    },
  );
}
