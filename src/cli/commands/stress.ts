/**
 * `pg-durable stress …`: the stress run, with exactly the flags of `npm run stress` (every
 * argument, --help included, goes to the stress program). Loaded only when asked for, so other
 * commands do not load the stress code.
 */
import { Command } from "commander";
import { CommandFailure, type RunContext } from "../io.ts";

type StressCli = (argv: string[]) => Promise<number>;

export function stressCommand(ctx: RunContext): Command {
  return new Command("stress")
    .description("Run the stress test (same flags as `npm run stress`; see `pg-durable stress --help`)")
    .helpOption(false) // the stress program prints its own help
    .allowUnknownOption()
    .allowExcessArguments()
    .passThroughOptions()
    .argument("[args...]", "arguments for the stress program")
    .action(async (args: string[]) => {
      const stress = (await import("../../stress/main.ts")) as unknown as { runStressCli?: StressCli };
      if (typeof stress.runStressCli !== "function") {
        throw new CommandFailure("this build of pg-durable has no stress runner (runStressCli is missing)");
      }
      ctx.exitCode = await stress.runStressCli(args);
    });
}
