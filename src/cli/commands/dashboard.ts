/**
 * `pg-durable dashboard`: serve the web dashboard (docs/dashboard.md) on --host:--port until
 * SIGINT/SIGTERM. It reads through the store's functions only, so any role that may run the store
 * can serve it; --read-only refuses every action. Listening beyond loopback needs a token
 * (--token or PG_DURABLE_DASHBOARD_TOKEN), which every API request must then carry.
 */
import { Command } from "commander";
import { LOOPBACK_HOSTS, type RunningDashboard, startDashboard } from "../../dashboard/server.ts";
import { PostgresProvider } from "../../provider/postgres-provider.ts";
import { databaseUrl, describeDatabaseError, openPool, requireStore } from "../connection.ts";
import { type CliIo, CommandFailure, EXIT_OK, type RunContext, UsageError } from "../io.ts";
import { type ConnectionFlags, integerArg, type OutputFlags, withDatabaseOptions } from "../options.ts";
import { printJson } from "../output.ts";

export const DEFAULT_DASHBOARD_PORT = 4600;
export const TOKEN_ENV = "PG_DURABLE_DASHBOARD_TOKEN";

export interface DashboardFlags extends ConnectionFlags, OutputFlags {
  host: string;
  port: number;
  readOnly: boolean;
  token?: string;
}

/** The token to require, or a usage error when the host is not loopback and none is given. */
export function dashboardToken(flags: DashboardFlags, io: CliIo): string | null {
  const token = flags.token ?? io.env[TOKEN_ENV] ?? null;
  if (token === "") throw new UsageError("--token must not be empty");
  if (token === null && !LOOPBACK_HOSTS.includes(flags.host)) {
    throw new UsageError(
      `--host ${flags.host} listens beyond this machine: pass --token <secret> or set ${TOKEN_ENV} ` +
        "(every request must then carry it), or listen on 127.0.0.1",
    );
  }
  return token;
}

/**
 * Start the dashboard and wait until `stop` aborts (the command passes SIGINT/SIGTERM), then close
 * the server and the connections.
 */
export async function runDashboard(flags: DashboardFlags, io: CliIo, stop: AbortSignal): Promise<number> {
  const token = dashboardToken(flags, io);
  const url = databaseUrl(flags, io);
  // The CLI's pool of 4 connections: the instance page, the busiest request, makes four calls at once.
  const pool = await openPool(flags, url);
  let running: RunningDashboard | null = null;
  let provider: PostgresProvider | null = null;
  try {
    await requireStore(pool, flags.schema);
    provider = await PostgresProvider.create({
      pool,
      schema: flags.schema,
      longPoll: false,
      logger: { warn: (message) => io.err(`warning: ${message}`) },
    });
    running = await startDashboard({
      provider,
      host: flags.host,
      port: flags.port,
      readOnly: flags.readOnly,
      token,
      onServerError: (error) =>
        io.err(`dashboard: ${error instanceof Error ? error.message : String(error)}`),
    });
  } catch (error) {
    await provider?.close().catch(() => {});
    await pool.end().catch(() => {});
    if (error instanceof CommandFailure || error instanceof UsageError) throw error;
    const code = (error as { code?: unknown }).code;
    if (code === "EADDRINUSE" || code === "EACCES" || code === "EADDRNOTAVAIL") {
      throw new CommandFailure(`cannot listen on ${flags.host}:${flags.port}: ${(error as Error).message}`);
    }
    throw new CommandFailure(describeDatabaseError(error, url, flags), { cause: error });
  }
  const signIn = token === null ? running.url : `${running.url}?token=${encodeURIComponent(token)}`;
  if (flags.json)
    printJson(io, { url: running.url, readOnly: flags.readOnly, tokenRequired: token !== null });
  else {
    io.out(
      `pg-durable dashboard for schema ${flags.schema}${flags.readOnly ? " (read-only)" : ""}: ${signIn}`,
    );
    io.out("Stop it with Ctrl-C.");
  }
  await new Promise<void>((resolve) => {
    if (stop.aborted) resolve();
    else stop.addEventListener("abort", () => resolve(), { once: true });
  });
  await running.close();
  await provider?.close().catch(() => {});
  await pool.end().catch(() => {});
  return EXIT_OK;
}

export function dashboardCommand(ctx: RunContext): Command {
  const command = new Command("dashboard")
    .description("Serve the web dashboard: instances, histories, queues, metrics and actions")
    .option("--host <address>", "address to listen on (beyond loopback a token is required)", "127.0.0.1")
    .option("--port <port>", "port to listen on", integerArg("--port", 0), DEFAULT_DASHBOARD_PORT)
    .option("--read-only", "refuse cancel, raise, delete and prune", false)
    .option("--token <secret>", `require this token on every request (default: $${TOKEN_ENV})`);
  // A server runs until stopped: no call timeout unless asked for.
  withDatabaseOptions(command, 0).action(async (flags: DashboardFlags) => {
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    try {
      ctx.exitCode = await runDashboard(flags, ctx.io, stop.signal);
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  });
  return command;
}
