/**
 * The stress binary's command line (commander) and the resulting configuration.
 */
import { join, resolve } from "node:path";
import { Command, type CommanderError, InvalidArgumentError, Option } from "commander";

export const SCENARIOS = ["fan-out", "large-payload", "continue-as-new"] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface StressConfig {
  scenarios: ScenarioName[];
  durationSec: number;
  maxConcurrent: number;
  tasks: number;
  activityDelayMs: number;
  orchConcurrency: number;
  workerConcurrency: number;
  runtimes: number;
  poolSize: number;
  pollIntervalMs: number;
  drainTimeoutSec: number;
  databaseUrl: string | null;
  keep: boolean;
  json: string | null;
  baseline: boolean;
  baselineSeconds: number;
  chaos: boolean;
  chaosIntervalMs: number;
  workerLockTimeoutMs: number;
  /** The first runtime's clock runs this far ahead (negative: behind) of the machine's. */
  clockSkewMs: number;
  postgresBin: string | null;
  /** Chaos failover (`--failover`): the standby's replication mode, or null for no standby. */
  failover: "sync" | "async" | null;
  /** How many failovers, spread evenly over the duration. */
  failovers: number;
  /** Directory whose `<server>.md` the figures are appended to; null: record nothing. */
  record: string | null;
  /** How long to wait for the server to accept a connection and answer. */
  connectTimeoutSec: number;
  /**
   * `--added-latency-ms`: the runtimes and the client reach the server through a TCP proxy that
   * holds every chunk back this long in each direction, and counts round trips; null: no proxy.
   */
  addedLatencyMs: number | null;
  /** `--trace-calls`: first run one orchestration alone and print its provider calls and round trips. */
  traceCalls: boolean;
}

/** Where `--record` without a directory appends: stress/results of the current directory. */
export const DEFAULT_RECORD_DIR = join("stress", "results");

function positiveInt(name: string, min = 1) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
    return n;
  };
}

export function parseStressArgs(argv: readonly string[]): StressConfig {
  const program = new Command()
    .name("npm run stress --")
    .description(
      "Run real workflows on the pg-durable store and report throughput, latency and correctness.\n" +
        "Without --database-url / DATABASE_URL an embedded PostgreSQL is started and removed afterwards.",
    )
    .addOption(
      new Option("--scenario <name>", "workload to run").choices([...SCENARIOS, "all"]).default("fan-out"),
    )
    .option(
      "--duration <seconds>",
      "how long to keep launching orchestrations",
      positiveInt("--duration"),
      10,
    )
    .option("--max-concurrent <n>", "orchestrations in flight", positiveInt("--max-concurrent"), 20)
    .option(
      "--tasks <n>",
      "activities per orchestration (fan-out width, generations for continue-as-new)",
      positiveInt("--tasks"),
      5,
    )
    .option(
      "--activity-delay-ms <ms>",
      "time each activity sleeps",
      positiveInt("--activity-delay-ms", 0),
      10,
    )
    .option(
      "--orch-concurrency <n>",
      "orchestration dispatcher slots per runtime",
      positiveInt("--orch-concurrency"),
      2,
    )
    .option(
      "--worker-concurrency <n>",
      "activity worker slots per runtime",
      positiveInt("--worker-concurrency"),
      2,
    )
    .option(
      "--runtimes <n>",
      "runtimes sharing the schema; more than 1 runs each in its own process",
      positiveInt("--runtimes"),
      1,
    )
    .option("--pool-size <n>", "Postgres connections per runtime", positiveInt("--pool-size"), 10)
    .option(
      "--poll-interval-ms <ms>",
      "dispatcher poll interval when a fetch finds nothing",
      positiveInt("--poll-interval-ms"),
      100,
    )
    .option(
      "--drain-timeout <seconds>",
      "how long to wait for in-flight orchestrations after the duration",
      positiveInt("--drain-timeout"),
      120,
    )
    .option("--database-url <url>", "use this server (default: $DATABASE_URL, else an embedded PostgreSQL)")
    .option("--keep", "keep the run's schema instead of dropping it", false)
    .option("--json <file>", "write one JSON object per scenario run (JSON lines) to this file")
    .option(
      "--baseline",
      "first measure this server's commit ceiling (insert+delete, 4 clients) and report the ratio",
      false,
    )
    .option(
      "--baseline-seconds <seconds>",
      "length of the baseline measurement",
      positiveInt("--baseline-seconds"),
      10,
    )
    .option(
      "--chaos",
      "inject faults while the workload runs: terminated backends, server restarts (only of a server " +
        "this run started), a starved pool, an idle-in-transaction session, SIGKILLed runtimes " +
        "(with --runtimes ≥ 2); see docs/chaos.md",
      false,
    )
    .option(
      "--chaos-interval-ms <ms>",
      "mean pause between faults (each drawn from 0.5–1.5× this)",
      positiveInt("--chaos-interval-ms"),
      3000,
    )
    .option(
      "--worker-lock-timeout-ms <ms>",
      "activity lock timeout: how soon work of a killed runtime is picked up again (default 30000, 10000 with --chaos)",
      positiveInt("--worker-lock-timeout-ms", 1000),
    )
    .option(
      "--clock-skew-ms <ms>",
      "run the first runtime's clock this far ahead of the machine's (negative: behind); activity executions are counted in the activity bodies",
      (v: string) => {
        const n = Number(v);
        if (!Number.isInteger(n)) throw new InvalidArgumentError("--clock-skew-ms must be an integer");
        return n;
      },
      0,
    )
    .option(
      "--postgres-bin <dir>",
      "start a throw-away server from these PostgreSQL binaries (e.g. /usr/lib/postgresql/15/bin) instead of the embedded one",
    )
    .addOption(
      new Option(
        "--failover <mode>",
        "with --chaos and --postgres-bin: run a streaming standby (sync or async replication) behind a " +
          "TCP proxy and fail over to it during the run (crash the primary, promote, re-point); see docs/chaos.md",
      ).choices(["sync", "async"]),
    )
    .option(
      "--failovers <n>",
      "failovers per run with --failover, spread evenly over the duration",
      positiveInt("--failovers"),
      1,
    )
    .option(
      "--record [dir]",
      `append the figures to <dir>/<server>.md (default dir: ${DEFAULT_RECORD_DIR}); without it nothing is written`,
    )
    .option(
      "--connect-timeout <seconds>",
      "give up when the server does not accept a connection and answer within this time",
      positiveInt("--connect-timeout"),
      5,
    )
    .option(
      "--added-latency-ms <ms>",
      "connect the runtimes and the client through a TCP proxy that delays each direction by this " +
        "much (a round trip gains twice it) and counts round trips per orchestration; 0 counts without delay",
      positiveInt("--added-latency-ms", 0),
    )
    .option(
      "--trace-calls",
      "before the measured run, run one orchestration alone and print every provider call and " +
        "round trip with its time (through the proxy; implies --added-latency-ms 0 unless given)",
      false,
    )
    .addHelpText(
      "after",
      "\nExit codes: 0 ok, 1 failure (a correctness violation, nothing completed, an error), 2 usage,\n" +
        "130/143 interrupted by SIGINT/SIGTERM (partial figures printed, schema and temp server removed).",
    )
    .exitOverride();
  program.parse(argv, { from: "user" });
  const o = program.opts<{
    scenario: string;
    duration: number;
    maxConcurrent: number;
    tasks: number;
    activityDelayMs: number;
    orchConcurrency: number;
    workerConcurrency: number;
    runtimes: number;
    poolSize: number;
    pollIntervalMs: number;
    drainTimeout: number;
    databaseUrl?: string;
    keep: boolean;
    json?: string;
    baseline: boolean;
    baselineSeconds: number;
    chaos: boolean;
    chaosIntervalMs: number;
    workerLockTimeoutMs?: number;
    clockSkewMs: number;
    postgresBin?: string;
    failover?: "sync" | "async";
    failovers: number;
    record?: string | true;
    connectTimeout: number;
    addedLatencyMs?: number;
    traceCalls: boolean;
  }>();
  if (o.failover && !(o.chaos && o.postgresBin))
    program.error("--failover needs --chaos and --postgres-bin (the run starts its own primary and standby)");
  if (o.failover && (o.addedLatencyMs !== undefined || o.traceCalls))
    program.error(
      "--added-latency-ms and --trace-calls cannot be combined with --failover (it has a proxy of its own)",
    );
  if (o.traceCalls && o.runtimes > 1)
    program.error("--trace-calls needs the runtime in this process (--runtimes 1)");
  return {
    scenarios: o.scenario === "all" ? [...SCENARIOS] : [o.scenario as ScenarioName],
    durationSec: o.duration,
    maxConcurrent: o.maxConcurrent,
    tasks: o.tasks,
    activityDelayMs: o.activityDelayMs,
    orchConcurrency: o.orchConcurrency,
    workerConcurrency: o.workerConcurrency,
    runtimes: o.runtimes,
    poolSize: o.poolSize,
    pollIntervalMs: o.pollIntervalMs,
    drainTimeoutSec: o.drainTimeout,
    databaseUrl: o.databaseUrl ?? process.env.DATABASE_URL ?? null,
    keep: o.keep,
    json: o.json ?? null,
    baseline: o.baseline,
    baselineSeconds: o.baselineSeconds,
    chaos: o.chaos,
    chaosIntervalMs: o.chaosIntervalMs,
    workerLockTimeoutMs: o.workerLockTimeoutMs ?? (o.chaos ? 10_000 : 30_000),
    clockSkewMs: o.clockSkewMs,
    postgresBin: o.postgresBin ?? null,
    failover: o.failover ?? null,
    failovers: o.failovers,
    record: o.record === undefined ? null : resolve(o.record === true ? DEFAULT_RECORD_DIR : o.record),
    connectTimeoutSec: o.connectTimeout,
    addedLatencyMs: o.addedLatencyMs ?? (o.traceCalls ? 0 : null),
    traceCalls: o.traceCalls,
  };
}

/** Commander's exit for help (0) and for usage errors (2: unknown flag, bad value). */
export function usageExitCode(error: CommanderError): number {
  return error.exitCode === 0 ? 0 : 2;
}
