/**
 * Where the runtimes of a stress run live: in this process (one runtime), or one child process
 * each (`--runtimes N`, N > 1), all sharing one schema. Children report their CPU time and peak
 * RSS when told to stop, so the run's client figures cover every process.
 */
import { type ChildProcess, fork } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type pg from "pg";
import { PostgresProvider } from "../provider/postgres-provider.ts";
import { Runtime } from "../runtime/index.ts";
import type { StressConfig } from "./config.ts";
import { scenarios } from "./scenarios/index.ts";

export interface HostUsage {
  cpuSec: number;
  peakRssMb: number;
}

export interface RuntimeHost {
  start(): Promise<void>;
  /**
   * Drain and stop; returns the CPU and peak RSS of the processes it ran (other than this one).
   * Safe to call more than once, and after a failed start.
   */
  stop(): Promise<HostUsage>;
  /** Chaos: hold every connection of one runtime's pool for `ms`; resolves with how many were held. */
  exhaustPool(ms: number): Promise<number>;
  /** RSS in MB of the largest runtime process right now; null when the runtime runs in this process. */
  runtimeRssMb(): number | null;
  /** Chaos: SIGKILL one runtime process and start a replacement; absent when in-process. */
  killOne?(): Promise<string>;
}

/** application_name of the runtimes' connections, which chaos finds in pg_stat_activity. */
export const RUNTIME_APPLICATION_NAME = "pgd-stress-runtime";

/** Check out every connection of `pool` (as many as it allows), hold them for `ms`, release. */
export async function holdPool(pool: pg.Pool, ms: number): Promise<number> {
  const max = (pool.options as { max?: number }).max ?? 10;
  const held = await Promise.allSettled(Array.from({ length: max }, () => pool.connect()));
  await new Promise((resolve) => setTimeout(resolve, ms));
  let count = 0;
  for (const h of held) {
    if (h.status === "fulfilled") {
      h.value.release();
      count++;
    }
  }
  return count;
}

export interface RuntimeSpec {
  url: string;
  schema: string;
  scenario: string;
  config: StressConfig;
  /** This runtime's clock runs this far ahead of the machine's (`--clock-skew-ms`, first runtime only). */
  clockSkewMs?: number;
}

/**
 * Build a started-ready Runtime for a scenario (used in-process and by the child entry point).
 * `wrap` sees the provider before the runtime does (`--trace-calls` records its calls).
 */
export async function buildRuntime(
  spec: RuntimeSpec,
  wrap: (provider: PostgresProvider) => PostgresProvider = (p) => p,
): Promise<{ runtime: Runtime; provider: PostgresProvider }> {
  const provider = await PostgresProvider.create({
    connectionString: spec.url,
    schema: spec.schema,
    poolSize: spec.config.poolSize,
    applicationName: RUNTIME_APPLICATION_NAME,
    // The runtime takes the provider's clock, so a skewed runtime stamps and judges with it too.
    ...(spec.clockSkewMs ? { clock: () => Date.now() + (spec.clockSkewMs ?? 0) } : {}),
    // Under chaos a starved pool should surface as (retryable) pool timeouts, not only as waits.
    ...(spec.config.chaos ? { connectionTimeoutMs: 2000 } : {}),
  });
  const runtime = new Runtime(wrap(provider), {
    orchestrationConcurrency: spec.config.orchConcurrency,
    workerConcurrency: spec.config.workerConcurrency,
    dispatcherPollIntervalMs: spec.config.pollIntervalMs,
    workerLockTimeoutMs: spec.config.workerLockTimeoutMs,
  });
  scenarios[spec.scenario]!.register(runtime, spec.config);
  return { runtime, provider };
}

export class InProcessHost implements RuntimeHost {
  private built?: { runtime: Runtime; provider: PostgresProvider };
  constructor(
    private readonly spec: RuntimeSpec,
    private readonly wrap?: (provider: PostgresProvider) => PostgresProvider,
  ) {}

  async start(): Promise<void> {
    this.built = await buildRuntime(this.spec, this.wrap);
    await this.built.runtime.start();
  }

  async stop(): Promise<HostUsage> {
    const built = this.built;
    this.built = undefined;
    if (built) {
      await built.runtime.shutdown(10_000);
      await built.provider.close();
    }
    return { cpuSec: 0, peakRssMb: 0 }; // this process is measured by the caller
  }

  async exhaustPool(ms: number): Promise<number> {
    return this.built ? await holdPool(this.built.provider.pool, ms) : 0;
  }

  runtimeRssMb(): number | null {
    return null; // the caller's own RSS includes the runtime
  }
}

/**
 * The child's entry point next to this module: runtime-process.ts when run from source (loaded
 * through tsx), runtime-process.js in the built package (plain node).
 */
const FROM_SOURCE = import.meta.url.endsWith(".ts");
const CHILD_ENTRY = join(
  dirname(fileURLToPath(import.meta.url)),
  `runtime-process.${FROM_SOURCE ? "ts" : "js"}`,
);

/** A runtime process that has not reported "stopped" by then is SIGKILLed. */
const CHILD_STOP_TIMEOUT_MS = 20_000;

interface ChildReport {
  type: "stopped";
  cpuSec: number;
  peakRssMb: number;
}

export class ChildProcessHost implements RuntimeHost {
  private children: ChildProcess[] = [];
  private readonly rssMb = new Map<ChildProcess, number>();
  private killedUsage: HostUsage = { cpuSec: 0, peakRssMb: 0 };
  constructor(
    private readonly spec: RuntimeSpec,
    private readonly count: number,
  ) {}

  private async spawnOne(spec: RuntimeSpec = this.spec): Promise<ChildProcess> {
    const child = fork(CHILD_ENTRY, [], {
      execArgv: FROM_SOURCE ? ["--import", "tsx"] : [],
      env: { ...process.env, PGD_STRESS_SPEC: JSON.stringify(spec) },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    // Tracked from the start, so a stop during a (failed) start still reaches it.
    this.children.push(child);
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: { type?: string }) => {
        if (m?.type === "started") {
          child.off("message", onMessage);
          resolve();
        }
      };
      child.on("message", onMessage);
      child.once("exit", (code) => reject(new Error(`runtime process exited with ${code} before starting`)));
    });
    child.on("message", (m: { type?: string; rssMb?: number }) => {
      if (m?.type === "memory" && typeof m.rssMb === "number") this.rssMb.set(child, m.rssMb);
    });
    child.once("exit", () => this.rssMb.delete(child));
    return child;
  }

  async start(): Promise<void> {
    // Only the first runtime runs skewed (--clock-skew-ms); a replacement after kill-runtime does not.
    const { clockSkewMs, ...unskewed } = this.spec;
    await Promise.all(
      Array.from({ length: this.count }, (_, i) =>
        this.spawnOne(i === 0 ? { ...unskewed, clockSkewMs } : unskewed),
      ),
    );
  }

  async killOne(): Promise<string> {
    const index = Math.floor(Math.random() * this.children.length);
    const [victim] = this.children.splice(index, 1);
    if (!victim) return "no runtime process to kill";
    victim.kill("SIGKILL");
    const t0 = Date.now();
    const { clockSkewMs: _skew, ...unskewed } = this.spec;
    const replacement = await this.spawnOne(unskewed);
    return `SIGKILLed runtime process ${victim.pid}; replacement ${replacement.pid} started in ${Date.now() - t0} ms`;
  }

  runtimeRssMb(): number | null {
    return this.rssMb.size > 0 ? Math.max(...this.rssMb.values()) : null;
  }

  /** Ask one runtime process (at random) to hold its whole pool for `ms`. */
  async exhaustPool(ms: number): Promise<number> {
    const child = this.children[Math.floor(Math.random() * this.children.length)];
    if (!child) return 0;
    return await new Promise<number>((resolve) => {
      const onMessage = (m: { type?: string; held?: number }) => {
        if (m?.type !== "pool-released") return;
        child.off("message", onMessage);
        child.off("exit", onExit);
        resolve(m.held ?? 0);
      };
      const onExit = () => {
        child.off("message", onMessage);
        resolve(0);
      };
      child.on("message", onMessage);
      child.once("exit", onExit);
      child.send({ type: "exhaust-pool", ms });
    });
  }

  async stop(): Promise<HostUsage> {
    const children = this.children;
    this.children = [];
    const reports = await Promise.all(children.map((child) => stopChild(child)));
    const usage = { ...this.killedUsage };
    for (const r of reports) {
      if (!r) continue;
      usage.cpuSec += r.cpuSec;
      usage.peakRssMb = Math.max(usage.peakRssMb, r.peakRssMb);
    }
    return usage;
  }
}

/** Ask one runtime process to stop; SIGKILL it if it does not within the timeout. */
function stopChild(child: ChildProcess): Promise<ChildReport | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(null);
  return new Promise<ChildReport | null>((resolve) => {
    let report: ChildReport | null = null;
    const timer = setTimeout(() => child.kill("SIGKILL"), CHILD_STOP_TIMEOUT_MS);
    child.on("message", (m: ChildReport) => {
      if (m?.type === "stopped") report = m;
    });
    // Resolve on exit, not on the report: the caller's "stopped" means the process is gone.
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(report);
    });
    if (child.connected) child.send({ type: "stop" }, (error) => error && child.kill("SIGKILL"));
    else child.kill("SIGKILL");
  });
}
