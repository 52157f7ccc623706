/**
 * `pg-durable prune`: delete old executions of continue-as-new chains (the provider's
 * pruneExecutionsBulk). The current execution of every instance always survives.
 */
import { Command } from "commander";
import { withStore } from "../connection.ts";
import { EXIT_OK, type RunContext, UsageError } from "../io.ts";
import {
  type ConnectionFlags,
  integerArg,
  isoTimeArg,
  type OutputFlags,
  withDatabaseOptions,
} from "../options.ts";
import { isoTime, printJson, renderRecord } from "../output.ts";

interface PruneFlags extends ConnectionFlags, OutputFlags {
  keepLast?: number;
  completedBefore?: number;
  instance?: string[];
  limit: number;
}

export function pruneCommand(ctx: RunContext): Command {
  const command = new Command("prune")
    .description(
      "Delete old executions (and their history) of instances that continued as new; " +
        "the current execution, running executions and KV values are never touched",
    )
    .option(
      "--keep-last <n>",
      "keep the newest n executions of each instance (1: only the current one)",
      integerArg("--keep-last", 1),
    )
    .option(
      "--completed-before <iso>",
      "delete only executions that completed before this time",
      isoTimeArg("--completed-before"),
    )
    .option("--instance <id...>", "only these instances (default: every instance)")
    .option(
      "--limit <n>",
      "look at most at this many instances, oldest first",
      integerArg("--limit", 1),
      1000,
    );
  // Pruning a large store takes a while: no call timeout unless asked for.
  withDatabaseOptions(command, 0).action(async (flags: PruneFlags) => {
    ctx.exitCode = await runPrune(ctx, flags);
  });
  return command;
}

async function runPrune(ctx: RunContext, flags: PruneFlags): Promise<number> {
  if (flags.keepLast === undefined && flags.completedBefore === undefined) {
    // Without either, every finished execution but the current one would go: make that explicit.
    throw new UsageError(
      "pass --keep-last N and/or --completed-before ISO (use --keep-last 1 to keep only the current execution)",
    );
  }
  return await withStore(flags, ctx.io, async (store) => {
    const result = await store.client.pruneExecutionsBulk(
      { instanceIds: flags.instance ?? null, limit: flags.limit },
      { keepLast: flags.keepLast ?? null, completedBefore: flags.completedBefore ?? null },
    );
    if (flags.json) {
      printJson(ctx.io, {
        keepLast: flags.keepLast ?? null,
        completedBefore: isoTime(flags.completedBefore),
        ...result,
      });
      return EXIT_OK;
    }
    ctx.io.out(
      renderRecord([
        ["instances processed", result.instancesProcessed],
        ["executions deleted", result.executionsDeleted],
        ["events deleted", result.eventsDeleted],
      ]),
    );
    return EXIT_OK;
  });
}
