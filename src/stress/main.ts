/**
 * `npm run stress -- --duration 30`: runs real workflows on the store and reports throughput,
 * latency, database cost per orchestration and a correctness check. See `--help`.
 */
import { CommanderError } from "commander";
import pg from "pg";
import { migrate, quoteSchema } from "../migrate/migrations.ts";
import { PostgresProvider } from "../provider/postgres-provider.ts";
import { Client } from "../runtime/index.ts";
import { type EmbeddedServer, startEmbeddedPostgres } from "../testing/embedded-postgres.ts";
import { startLocalPostgres } from "../testing/local-postgres.ts";
import { measureCommitCeiling } from "./baseline.ts";
import { Chaos } from "./chaos.ts";
import { CompletionWatcher } from "./completion-watcher.ts";
import { parseStressArgs, type StressConfig } from "./config.ts";
import { checkCorrectness } from "./correctness.ts";
import { sampleCounters, serverVersion, walBytesBetween } from "./db-stats.ts";
import { failureKind } from "./failures.ts";
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
import { runWorkload } from "./workload.ts";

async function runScenario(
  name: string,
  config: StressConfig,
  url: string,
  serverLabel: string,
  adminPool: pg.Pool,
  baselineTps: number | null,
  ownServer: EmbeddedServer | null,
): Promise<ScenarioResult> {
  const scenario = scenarios[name]!;
  const schema = `stress_${name.replace(/-/g, "_")}_${Date.now().toString(36)}`;
  await migrate(adminPool, schema);
  const spec = { url, schema, scenario: name, config };
  const host: RuntimeHost =
    config.runtimes > 1 ? new ChildProcessHost(spec, config.runtimes) : new InProcessHost(spec);
  const clientProvider = await PostgresProvider.create({
    connectionString: url,
    schema,
    poolSize: 4,
    applicationName: "pgd-stress-client",
  });
  const client = new Client(clientProvider);
  const watcher = new CompletionWatcher(adminPool, schema);
  try {
    await host.start();
    const cpuBefore = process.cpuUsage();
    const before = await sampleCounters(adminPool);
    const chaos = config.chaos ? startChaos(config, url, host, ownServer) : null;
    const outcome = await runWorkloadFor(scenario, config, client, watcher, chaos, host);
    if (chaos) console.log(`chaos: ${chaos.total()} faults injected ${JSON.stringify(chaos.counts())}`);
    const after = await sampleCounters(adminPool);
    const hostUsage = await host.stop();
    const cpu = process.cpuUsage(cpuBefore);

    const completed = outcome.finished.filter((f) => f.status === "Completed");
    const failed: FailureCounts = { infrastructure: 0, configuration: 0, application: 0 };
    for (const f of outcome.finished)
      if (f.status === "Failed") failed[await failureKind(clientProvider, f.instanceId)]++;
    const correctness = await checkCorrectness(clientProvider, adminPool, schema, outcome.launched);
    for (const id of outcome.stuck)
      correctness.violations.push(`${id}: still running after the drain timeout (stuck)`);
    const totalFailed = failed.infrastructure + failed.configuration + failed.application;
    if (totalFailed > 0) correctness.violations.push(`${totalFailed} orchestration(s) failed unexpectedly`);
    correctness.ok = correctness.violations.length === 0;
    console.log(`\n${correctnessSummary(correctness)}`);

    // Our own bookkeeping (two counter samples, the watcher's polls) is not the workload's cost.
    const harnessTx = watcher.queries + 2;
    const transactions = Math.max(0, after.transactions - before.transactions - harnessTx);
    const walBytes = await walBytesBetween(adminPool, before.walLsn, after.walLsn);
    const secs = outcome.wallMs / 1000;
    const n = Math.max(completed.length, 1);
    const sorted = [...outcome.latenciesMs].sort((a, b) => a - b);
    const orchPerSec = completed.length / secs;
    const txPerOrch = transactions / n;
    return {
      scenario: name,
      config: { ...configSummary(config) },
      server: serverLabel,
      durationSec: config.durationSec,
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
      walBytesPerOrch: walBytes / n,
      clientCpuSec: (cpu.user + cpu.system) / 1e6 + hostUsage.cpuSec,
      peakRssMb: Math.max(process.resourceUsage().maxRSS / 1024, hostUsage.peakRssMb),
      baselineTps,
      ceilingRatio: baselineTps ? (orchPerSec * txPerOrch) / baselineTps : null,
      ...(chaos ? { faults: { total: chaos.total(), ...chaos.counts() } } : {}),
      correctness: { ok: correctness.ok, violations: correctness.violations },
    };
  } finally {
    await clientProvider.close();
    if (!config.keep) await adminPool.query(`DROP SCHEMA IF EXISTS ${quoteSchema(schema)} CASCADE`);
    else console.log(`kept schema ${schema}`);
  }
}

async function runWorkloadFor(
  scenario: (typeof scenarios)[string],
  config: StressConfig,
  client: Client,
  watcher: CompletionWatcher,
  chaos: Chaos | null,
  host: RuntimeHost,
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
    onTick: (elapsedMs) => {
      if (chaos && !faultsStopped && elapsedMs >= config.durationSec * 1000) faultsStopped = chaos.stop();
    },
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
    },
    {
      meanIntervalMs: config.chaosIntervalMs,
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
    workerLockTimeoutMs: c.workerLockTimeoutMs,
  };
}

async function main(): Promise<number> {
  let config: StressConfig;
  try {
    config = parseStressArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    throw error;
  }
  // A server this run starts (embedded, or from --postgres-bin) is the only kind chaos may restart.
  const embedded = config.databaseUrl
    ? null
    : config.postgresBin
      ? await startLocalPostgres(config.postgresBin)
      : await startEmbeddedPostgres();
  const url = config.databaseUrl ?? embedded!.url;
  const adminPool = new pg.Pool({ connectionString: url, max: 3 });
  adminPool.on("error", () => {}); // idle connections die when chaos restarts the server
  const results: ScenarioResult[] = [];
  try {
    const version = await serverVersion(adminPool);
    const serverLabel = embedded
      ? `${config.postgresBin ? "local" : "embedded"}-${version.replace(/\s+/g, "-")}`
      : `${new URL(url).hostname}-${version.replace(/\s+/g, "-")}`;
    console.log(
      `server: ${version} (${embedded ? `${config.postgresBin ? config.postgresBin : "embedded"}, started for this run` : "from --database-url/DATABASE_URL"})`,
    );
    let baselineTps: number | null = null;
    if (config.baseline) {
      const schema = `stress_baseline_${Date.now().toString(36)}`;
      await adminPool.query(`CREATE SCHEMA ${quoteSchema(schema)}`);
      try {
        const b = await measureCommitCeiling(url, schema, { clients: 4, seconds: config.baselineSeconds });
        baselineTps = b.tps;
        console.log(
          `baseline: ${b.tps.toFixed(0)} TPS (insert+delete, ${b.clients} clients, ${b.seconds.toFixed(1)} s)`,
        );
      } finally {
        await adminPool.query(`DROP SCHEMA IF EXISTS ${quoteSchema(schema)} CASCADE`);
      }
    }
    for (const name of config.scenarios) {
      results.push(await runScenario(name, config, url, serverLabel, adminPool, baselineTps, embedded));
    }
    console.log(renderTable(results));
    if (config.json) await writeJson(config.json, results);
    if (config.record) console.log(`results appended to ${await appendResults(serverLabel, results)}`);
  } finally {
    await adminPool.end();
    await embedded?.stop();
  }
  return results.every((r) => r.correctness.ok && r.completed > 0) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
