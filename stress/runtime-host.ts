/**
 * Where the runtimes of a stress run live: in this process (one runtime), or one child process
 * each (`--runtimes N`, N > 1), all sharing one schema. Children report their CPU time and peak
 * RSS when told to stop, so the run's client figures cover every process.
 */
import { type ChildProcess, fork } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PostgresProvider } from "../src/provider/postgres-provider.ts";
import { Runtime } from "../src/runtime/index.ts";
import type { StressConfig } from "./config.ts";
import { scenarios } from "./scenarios/index.ts";

export interface HostUsage {
  cpuSec: number;
  peakRssMb: number;
}

export interface RuntimeHost {
  start(): Promise<void>;
  /** Drain and stop; returns the CPU and peak RSS of the processes it ran (other than this one). */
  stop(): Promise<HostUsage>;
  /** SIGKILL one runtime process and start a replacement (chaos); false if in-process. */
  killOne?(): Promise<boolean>;
}

export interface RuntimeSpec {
  url: string;
  schema: string;
  scenario: string;
  config: StressConfig;
}

/** Build a started-ready Runtime for a scenario (used in-process and by the child entry point). */
export async function buildRuntime(
  spec: RuntimeSpec,
): Promise<{ runtime: Runtime; provider: PostgresProvider }> {
  const provider = await PostgresProvider.create({
    connectionString: spec.url,
    schema: spec.schema,
    poolSize: spec.config.poolSize,
  });
  const runtime = new Runtime(provider, {
    orchestrationConcurrency: spec.config.orchConcurrency,
    workerConcurrency: spec.config.workerConcurrency,
    dispatcherPollIntervalMs: spec.config.pollIntervalMs,
  });
  scenarios[spec.scenario]!.register(runtime, spec.config);
  return { runtime, provider };
}

export class InProcessHost implements RuntimeHost {
  private built?: { runtime: Runtime; provider: PostgresProvider };
  constructor(private readonly spec: RuntimeSpec) {}

  async start(): Promise<void> {
    this.built = await buildRuntime(this.spec);
    await this.built.runtime.start();
  }

  async stop(): Promise<HostUsage> {
    if (this.built) {
      await this.built.runtime.shutdown(10_000);
      await this.built.provider.close();
    }
    return { cpuSec: 0, peakRssMb: 0 }; // this process is measured by the caller
  }
}

const CHILD_ENTRY = join(dirname(fileURLToPath(import.meta.url)), "runtime-process.ts");

interface ChildReport {
  type: "stopped";
  cpuSec: number;
  peakRssMb: number;
}

export class ChildProcessHost implements RuntimeHost {
  private children: ChildProcess[] = [];
  private killedUsage: HostUsage = { cpuSec: 0, peakRssMb: 0 };
  constructor(
    private readonly spec: RuntimeSpec,
    private readonly count: number,
  ) {}

  private async spawnOne(): Promise<ChildProcess> {
    const child = fork(CHILD_ENTRY, [], {
      execArgv: ["--import", "tsx"],
      env: { ...process.env, PGD_STRESS_SPEC: JSON.stringify(this.spec) },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
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
    return child;
  }

  async start(): Promise<void> {
    this.children = await Promise.all(Array.from({ length: this.count }, () => this.spawnOne()));
  }

  async killOne(): Promise<boolean> {
    const victim = this.children.shift();
    if (!victim) return false;
    victim.kill("SIGKILL");
    this.children.push(await this.spawnOne());
    return true;
  }

  async stop(): Promise<HostUsage> {
    const reports = await Promise.all(
      this.children.map(
        (child) =>
          new Promise<ChildReport | null>((resolve) => {
            child.on("message", (m: ChildReport) => {
              if (m?.type === "stopped") resolve(m);
            });
            child.once("exit", () => resolve(null));
            child.send({ type: "stop" });
          }),
      ),
    );
    const usage = { ...this.killedUsage };
    for (const r of reports) {
      if (!r) continue;
      usage.cpuSec += r.cpuSec;
      usage.peakRssMb = Math.max(usage.peakRssMb, r.peakRssMb);
    }
    return usage;
  }
}
