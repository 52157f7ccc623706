/**
 * `npm run stress -- --duration 30`: runs real workflows on the store and reports throughput,
 * latency, database cost per orchestration and a correctness check. See `--help`.
 * `runStressCli` is the same program for `pg-durable stress`.
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CommanderError } from "commander";
import pg from "pg";
import { migrate, quoteSchema } from "../migrate/migrations.ts";
import { PostgresProvider } from "../provider/postgres-provider.ts";
import { Client } from "../runtime/index.ts";
import type { EmbeddedServer } from "../testing/embedded-postgres.ts";
import { startCountingActivityExecutions } from "./activity-executions.ts";
import { measureCommitCeiling } from "./baseline.ts";
import { CallTrace } from "./call-trace.ts";
import { Chaos } from "./chaos.ts";
import { CompletionWatcher } from "./completion-watcher.ts";
import { parseStressArgs, type StressConfig, usageExitCode } from "./config.ts";
import { type CorrectnessReport, checkCorrectness } from "./correctness.ts";
import { sampleCounters, serverVersion, walBytesBetween } from "./db-stats.ts";
import {
  failoverSchedule,
  isFailoverCluster,
  lostWorkVerdict,
  type StoreAudit,
  startFailoverCluster,
  storeAuditor,
} from "./failover/index.ts";
import { failureKind } from "./failures.ts";
import { Interruption } from "./lifecycle.ts";
import { endProgressLine, progressPrinter } from "./progress.ts";
import {
  appendResults,
  correctnessSummary,
  type FailureCounts,
  percentile,
  renderTable,
  type ScenarioResult,
  writeJson,
} from "./report.ts";
import {
  ChildProcessHost,
  InProcessHost,
  RUNTIME_APPLICATION_NAME,
  type RuntimeHost,
} from "./runtime-host.ts";
import { scenarios } from "./scenarios/index.ts";
import { startRunServer, stopRunServer } from "./server.ts";
import { TcpProxy } from "./tcp-proxy.ts";
import { runWorkload } from "./workload.ts";

/** What a scenario run needs besides its name. */
interface RunContext {
  config: StressConfig;
  url: string;
  serverLabel: string;
  adminPool: pg.Pool;
  baselineTps: number | null;
  ownServer: EmbeddedServer | null;
  interruption: Interruption;
}

/** Run one scenario; null when interrupted before it measured anything. */
async function runScenario(name: string, ctx: RunContext): Promise<ScenarioResult | null> {
  const { config, url, adminPool, interruption } = ctx;
  const scenario = scenarios[name]!;
  const schema = `stress_${name.replace(/-/g, "_")}_${Date.now().toString(36)}`;
  // --added-latency-ms: the runtimes and the client (the store's users) go through the proxy; the
  // harness (setup, completion watcher, correctness check) connects directly.
  // Through the proxy, round trips are always tallied by store function; the timeline only on request.
  const wire = config.addedLatencyMs === null ? null : new CallTrace(config.addedLatencyMs);
  const trace = config.traceCalls ? wire : null;
  const proxy =
    config.addedLatencyMs === null
      ? null
      : await TcpProxy.start({
          target: proxyTarget(url),
          delayMs: config.addedLatencyMs,
          delayConnect: true,
          ...(wire ? { observer: wire } : {}),
        });
  const storeUrl = proxy ? viaProxy(url, proxy) : url;
  const spec = { url: storeUrl, schema, scenario: name, config, clockSkewMs: config.clockSkewMs };
  const host: RuntimeHost =
    config.runtimes > 1
      ? new ChildProcessHost(spec, config.runtimes)
      : new InProcessHost(spec, trace ? (p) => trace.traced(p) : undefined);
  let clientProvider: PostgresProvider | null = null;
  let executionLog: Awaited<ReturnType<typeof startCountingActivityExecutions>> | null = null;
  try {
    await migrate(adminPool, schema);
    clientProvider = await PostgresProvider.create({
      connectionString: storeUrl,
      schema,
      poolSize: 4,
      applicationName: "pgd-stress-client",
      connectionTimeoutMs: config.connectTimeoutSec * 1000,
    });
    const client = new Client(trace ? trace.traced(clientProvider) : clientProvider);
    const watcher = new CompletionWatcher(adminPool, schema);
    // Chaos and skewed-clock runs count duplicate activity executions inside the activity bodies
    // (before the runtimes start: their processes inherit where to log).
    executionLog = config.chaos || config.clockSkewMs !== 0 ? await startCountingActivityExecutions() : null;
    await host.start();
    if (interruption.interrupted) return null;
    const traced = trace ? await traceOneOrchestration(scenario, config, client, watcher, trace) : [];
    if (interruption.interrupted) return null;
    console.log(
      `[${name}] schema ${schema}: launching for ${config.durationSec} s with ${config.runtimes} runtime(s)`,
    );
    const cpuBefore = process.cpuUsage();
    const before = await sampleCounters(adminPool);
    const chaos = config.chaos ? startChaos(config, url, host, ctx.ownServer) : null;
    const stopChaosOnInterrupt = interruption.onInterrupt(() => void chaos?.stop());
    const audit = config.failover ? storeAuditor(adminPool, schema) : undefined;
    const roundTripsBefore = proxy?.roundTrips ?? 0;
    wire?.setTallying(true);
    const outcome = await runWorkloadFor(scenario, config, client, watcher, chaos, host, interruption, audit);
    wire?.setTallying(false);
    const roundTrips = proxy ? proxy.roundTrips - roundTripsBefore : null;
    stopChaosOnInterrupt();
    if (chaos) console.log(`chaos: ${chaos.total()} faults injected ${JSON.stringify(chaos.counts())}`);
    const interrupted = interruption.interrupted;
    // Interrupted, the server may be gone already (a Ctrl-C reaches a server this run started):
    // the figures that need it are then left out rather than lost with the rest.
    const after = await sampleCounters(adminPool).catch((error) => {
      if (!interrupted) throw error;
      return null;
    });
    const hostUsage = await host.stop();
    const cpu = process.cpuUsage(cpuBefore);
    const activityExecutions = await executionLog?.summarize();
    if (activityExecutions) {
      const { executions, activities, duplicates, worst } = activityExecutions;
      console.log(
        `activity executions (counted in the activity bodies): ${executions} for ${activities} activities, ${duplicates} duplicate(s)${worst ? `; most: ${worst.key} ran ${worst.runs} times` : ""}`,
      );
    }
    const lostWork = config.failover
      ? lostWorkVerdict(config.failover, outcome.lostStarts, outcome.reopened)
      : null;
    if (lostWork) console.log(lostWork.line);

    const completed = outcome.finished.filter((f) => f.status === "Completed");
    if (wire && completed.length > 0)
      console.log(
        `round trips per completed orchestration, by store function:\n${wire.renderTally(completed.length)}`,
      );
    const failed: FailureCounts = { infrastructure: 0, configuration: 0, application: 0 };
    for (const f of outcome.finished) {
      if (f.status !== "Failed") continue;
      const kind = await failureKind(clientProvider, f.instanceId).catch((error) => {
        if (!interrupted) throw error;
        return "infrastructure" as const;
      });
      failed[kind]++;
    }
    const totalFailed = failed.infrastructure + failed.configuration + failed.application;
    // An interrupted run is not checked: its unfinished instances would read as violations.
    const correctness = interrupted
      ? { ok: false, violations: [] as string[] }
      : await checkCorrectness(clientProvider, adminPool, schema, [...traced, ...outcome.launched]);
    if (!interrupted) {
      for (const id of outcome.stuck)
        correctness.violations.push(`${id}: still running after the drain timeout (stuck)`);
      if (totalFailed > 0) correctness.violations.push(`${totalFailed} orchestration(s) failed unexpectedly`);
      correctness.violations.push(...(lostWork?.violations ?? []));
      correctness.ok = correctness.violations.length === 0;
      console.log(`\n${correctnessSummary(correctness as CorrectnessReport)}`);
    }

    // Our own bookkeeping (two counter samples, the watcher's polls) is not the workload's cost.
    const harnessTx = watcher.queries + 2;
    const transactions = after
      ? Math.max(0, after.transactions - before.transactions - harnessTx)
      : Number.NaN;
    const walBytes = after
      ? await walBytesBetween(adminPool, before.walLsn, after.walLsn).catch(() => Number.NaN)
      : Number.NaN;
    const secs = outcome.wallMs / 1000;
    const n = Math.max(completed.length, 1);
    const sorted = [...outcome.latenciesMs].sort((a, b) => a - b);
    const orchPerSec = completed.length / secs;
    const txPerOrch = transactions / n;
    return {
      scenario: name,
      config: { ...configSummary(config) },
      server: ctx.serverLabel,
      durationSec: interrupted ? Math.round(secs * 10) / 10 : config.durationSec,
      launched: outcome.launched.length,
      completed: completed.length,
      failed,
      orchPerSec,
      activitiesPerSec: (completed.length * scenario.activitiesPerInstance(config)) / secs,
      latencyMs: {
        p50: percentile(sorted, 50),
        p95: percentile(sorted, 95),
        p99: percentile(sorted, 99),
        max: sorted.at(-1) ?? 0,
      },
      transactions,
      txPerOrch,
      ...(roundTrips === null ? {} : { roundTripsPerOrch: roundTrips / n }),
      walBytesPerOrch: walBytes / n,
      clientCpuSec: (cpu.user + cpu.system) / 1e6 + hostUsage.cpuSec,
      peakRssMb: Math.max(process.resourceUsage().maxRSS / 1024, hostUsage.peakRssMb),
      baselineTps: ctx.baselineTps,
      ceilingRatio: ctx.baselineTps ? (orchPerSec * txPerOrch) / ctx.baselineTps : null,
      ...(chaos ? { faults: { total: chaos.total(), ...chaos.counts() } } : {}),
      ...(activityExecutions ? { activityExecutions } : {}),
      ...(config.failover
        ? { failover: { mode: config.failover, lostStarts: outcome.lostStarts, reopened: outcome.reopened } }
        : {}),
      correctness: { ok: correctness.ok, violations: correctness.violations },
      ...(interrupted ? { interrupted: true } : {}),
    };
  } finally {
    // Runtimes first: the schema can only be dropped once nothing uses it.
    await host.stop().catch((error) => console.error(`stress: stopping the runtimes: ${error.message}`));
    await clientProvider?.close().catch(() => {});
    await proxy?.close();
    await executionLog?.stop();
    if (config.keep) console.log(`kept schema ${schema}`);
    else await dropSchema(adminPool, schema, interruption.interrupted);
  }
}

/** Where the proxy forwards to: the server of `url` (a TCP address; a Unix socket cannot be proxied). */
function proxyTarget(url: string): { host: string; port: number } {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, "");
  if (!host || u.searchParams.has("host"))
    throw new Error("--added-latency-ms needs a TCP address in the connection string (host and port)");
  return { host, port: u.port ? Number(u.port) : 5432 };
}

/** `url` with the proxy's address in place of the server's. */
function viaProxy(url: string, proxy: TcpProxy): string {
  const u = new URL(url);
  u.hostname = proxy.host;
  u.port = String(proxy.port);
  return u.toString();
}

/**
 * `--trace-calls`: once the runtime idles, start one orchestration alone and print every provider
 * call and round trip until the store records it finished (after three untraced warm-up runs).
 * Returns the instance ids it started (the correctness check covers them like the others).
 */
async function traceOneOrchestration(
  scenario: (typeof scenarios)[string],
  config: StressConfig,
  client: Client,
  watcher: CompletionWatcher,
  trace: CallTrace,
): Promise<string[]> {
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const runOne = async (id: string) => {
    const t0 = Date.now();
    await client.startOrchestration(id, scenario.orchestration, scenario.input(config));
    // The watcher connects directly, so its polls are not in the trace.
    while (Date.now() - t0 < 30_000) {
      const [finished] = await watcher.poll([id]);
      if (finished) return { finished, t0 };
      await pause(2);
    }
    return { finished: undefined, t0 };
  };
  // Warm-up: a cold first run would show statement preparation and compilation, not the path.
  const base = `${scenario.name}-trace-${Date.now().toString(36)}`;
  const ids = [`${base}-warmup-1`, `${base}-warmup-2`, `${base}-warmup-3`, base];
  for (const warmup of ids.slice(0, -1)) await runOne(warmup);
  await pause(1000); // the dispatchers settle into their idle waits
  const id = base;
  trace.start();
  const { finished, t0 } = await runOne(id);
  trace.stop();
  console.log(`\n[${scenario.name}] trace of one orchestration alone (${id}), times from its start:`);
  console.log(trace.render());
  console.log(
    finished
      ? `${finished.status} ${finished.completedAtMs - t0} ms after the start (store's clock); ${trace.roundTrips()} round trips through the proxy in the window (+${config.addedLatencyMs ?? 0} ms each way)\n`
      : "not finished within 30 s\n",
  );
  return ids;
}

/** Drop the run's schema; a failure is reported with the statement to run by hand. */
async function dropSchema(adminPool: pg.Pool, schema: string, interrupted: boolean): Promise<void> {
  const sql = `DROP SCHEMA IF EXISTS ${quoteSchema(schema)} CASCADE`;
  try {
    await adminPool.query(sql);
    if (interrupted) console.log(`dropped schema ${schema}`);
  } catch (error) {
    console.error(`stress: could not drop schema ${schema} (${(error as Error).message}); run: ${sql}`);
  }
}

async function runWorkloadFor(
  scenario: (typeof scenarios)[string],
  config: StressConfig,
  client: Client,
  watcher: CompletionWatcher,
  chaos: Chaos | null,
  host: RuntimeHost,
  interruption: Interruption,
  audit?: (ids: readonly string[]) => Promise<StoreAudit>,
) {
  let faultsStopped: Promise<unknown> | null = null;
  const result = await runWorkload(client, watcher, {
    scenario: scenario.name,
    orchestration: scenario.orchestration,
    input: () => scenario.input(config),
    maxConcurrent: config.maxConcurrent,
    durationMs: config.durationSec * 1000,
    drainTimeoutMs: config.drainTimeoutSec * 1000,
    onProgress: progressPrinter(scenario.name, () => host.runtimeRssMb()),
    // Faults stop when launching stops; the drain that follows is the recovery being checked.
    shouldStop: () => interruption.interrupted,
    onTick: async (elapsedMs) => {
      if (chaos && !faultsStopped && elapsedMs >= config.durationSec * 1000) faultsStopped = chaos.stop();
      // A failover run drains only after the last failover: the store's past must be final first.
      if (audit && faultsStopped) await faultsStopped;
    },
    ...(audit
      ? { audit, onAuditError: (message: string) => console.error(`stress: store audit failed: ${message}`) }
      : {}),
  });
  await (faultsStopped ?? chaos?.stop());
  endProgressLine();
  return result;
}

/** Chaos on this run's runtimes, and on the server only if this run started it. */
function startChaos(
  config: StressConfig,
  url: string,
  host: RuntimeHost,
  ownServer: EmbeddedServer | null,
): Chaos {
  const chaos = new Chaos(
    {
      adminUrl: url,
      runtimeApplicationName: RUNTIME_APPLICATION_NAME,
      ...(ownServer ? { restartServer: () => ownServer.restart() } : {}),
      exhaustPool: (ms) => host.exhaustPool(ms),
      ...(host.killOne ? { killRuntime: () => host.killOne!() } : {}),
      ...(isFailoverCluster(ownServer) ? { failover: () => ownServer.failover() } : {}),
    },
    {
      meanIntervalMs: config.chaosIntervalMs,
      failoverAtMs: config.failover ? failoverSchedule(config.durationSec, config.failovers) : [],
      log: (line) => {
        endProgressLine();
        console.log(line);
      },
    },
  );
  chaos.start();
  return chaos;
}

function configSummary(c: StressConfig) {
  return {
    maxConcurrent: c.maxConcurrent,
    tasks: c.tasks,
    activityDelayMs: c.activityDelayMs,
    orchConcurrency: c.orchConcurrency,
    workerConcurrency: c.workerConcurrency,
    runtimes: c.runtimes,
    poolSize: c.poolSize,
    pollIntervalMs: c.pollIntervalMs,
    chaos: c.chaos,
    ...(c.failover ? { failover: c.failover, failovers: c.failovers } : {}),
    ...(c.addedLatencyMs === null ? {} : { addedLatencyMs: c.addedLatencyMs }),
    workerLockTimeoutMs: c.workerLockTimeoutMs,
  };
}

/**
 * The stress binary: `npm run stress -- …` and `pg-durable stress …`. Returns the exit code: 0 ok,
 * 1 failure, 2 usage, 128 + signal number when interrupted (130 SIGINT, 143 SIGTERM).
 */
export async function runStressCli(argv: string[]): Promise<number> {
  let config: StressConfig;
  try {
    config = parseStressArgs(argv);
  } catch (error) {
    if (error instanceof CommanderError) return usageExitCode(error);
    throw error;
  }
  const interruption = new Interruption();
  interruption.install();
  try {
    return await runStress(config, interruption);
  } catch (error) {
    if (!(error instanceof ConnectError))
      console.error(error instanceof Error ? (error.stack ?? error) : error);
    else console.error(`stress: ${error.message}`);
    return interruption.interrupted ? interruption.exitCode : 1;
  } finally {
    interruption.dispose();
  }
}

/** The server cannot be reached, refuses us, or does not answer. */
class ConnectError extends Error {}

/** The connection string without its password, for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "the server";
  }
}

/** The first contact with the server, with an error that says what went wrong and where. */
async function connectOrExplain(pool: pg.Pool, url: string, timeoutSec: number): Promise<string> {
  const started = Date.now();
  try {
    return await serverVersion(pool);
  } catch (error) {
    const message = (error as Error).message;
    const timedOut = /timeout/i.test(message) || Date.now() - started >= timeoutSec * 1000;
    throw new ConnectError(
      `cannot connect to ${redact(url)}: ` +
        (timedOut
          ? `no answer within ${timeoutSec} s (is it a PostgreSQL server? --connect-timeout sets the wait)`
          : message),
    );
  }
}

async function runStress(config: StressConfig, interruption: Interruption): Promise<number> {
  // A server this run starts (embedded, or from --postgres-bin) is the only kind chaos may restart.
  const ownServer = config.databaseUrl
    ? null
    : config.failover
      ? await startFailoverCluster(config.postgresBin!, config.failover)
      : await startRunServer(config.postgresBin);
  if (ownServer) interruption.removeOnExit(ownServer.dataDir);
  const url = config.databaseUrl ?? ownServer!.url;
  const adminPool = new pg.Pool({
    connectionString: url,
    max: 3,
    connectionTimeoutMillis: config.connectTimeoutSec * 1000,
  });
  adminPool.on("error", () => {}); // idle connections die when chaos restarts the server
  const results: ScenarioResult[] = [];
  try {
    if (interruption.interrupted) return interruption.exitCode;
    const version = await connectOrExplain(adminPool, url, config.connectTimeoutSec);
    const serverLabel = ownServer
      ? `${config.postgresBin ? "local" : "embedded"}-${version.replace(/\s+/g, "-")}`
      : `${new URL(url).hostname}-${version.replace(/\s+/g, "-")}`;
    console.log(
      `server: ${version} (${ownServer ? `${config.postgresBin ?? "embedded"}, started for this run in ${ownServer.dataDir}` : "from --database-url/DATABASE_URL"})`,
    );
    let baselineTps: number | null = null;
    if (config.baseline && !interruption.interrupted) {
      const schema = `stress_baseline_${Date.now().toString(36)}`;
      await adminPool.query(`CREATE SCHEMA ${quoteSchema(schema)}`);
      try {
        const b = await measureCommitCeiling(url, schema, {
          clients: 4,
          seconds: config.baselineSeconds,
          connectTimeoutMs: config.connectTimeoutSec * 1000,
          shouldStop: () => interruption.interrupted,
        });
        baselineTps = b.tps;
        console.log(
          `baseline: ${b.tps.toFixed(0)} TPS (insert+delete, ${b.clients} clients, ${b.seconds.toFixed(1)} s)`,
        );
      } finally {
        await dropSchema(adminPool, schema, false);
      }
    }
    const ctx: RunContext = { config, url, serverLabel, adminPool, baselineTps, ownServer, interruption };
    for (const name of config.scenarios) {
      if (interruption.interrupted) break;
      const result = await runScenario(name, ctx);
      if (result) results.push(result);
    }
    if (interruption.interrupted) {
      console.log(
        `\nINTERRUPTED by ${interruption.signal}: ${results.length === 0 ? "nothing measured yet" : "partial figures up to the signal; correctness not checked"}`,
      );
    }
    if (results.length > 0) console.log(renderTable(results));
    if (config.json) await writeJson(config.json, results);
    if (config.record) {
      if (interruption.interrupted) console.log("not recorded: the run was interrupted");
      else console.log(`results appended to ${await appendResults(config.record, serverLabel, results)}`);
    }
  } finally {
    await adminPool.end().catch(() => {});
    if (ownServer) {
      await stopRunServer(ownServer);
      interruption.removed(ownServer.dataDir);
    }
  }
  if (interruption.interrupted) return interruption.exitCode;
  return results.every((r) => r.correctness.ok && r.completed > 0) ? 0 : 1;
}

/** Run by itself (`npm run stress`, `tsx src/stress/main.ts`, `node dist/stress/main.js`). */
function invokedDirectly(): boolean {
  try {
    return !!process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  runStressCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : error);
      process.exit(1);
    },
  );
}
