/**
 * Chaos mode (`--chaos`): while the workload runs, inject one fault at a time at random, bounded
 * intervals, and log each with its time. The faults are the ones users of Postgres queues meet in
 * production: backends killed by an operator, a server restart, a starved connection pool, a
 * long idle-in-transaction session pinning vacuum, and a worker process killed mid-work.
 *
 * Which faults run depends on what this run may touch: the server is restarted only when the run
 * started it itself, and runtime processes are killed only when there are several of them.
 *
 * Failover (`--failover`) is not drawn at random: it is scheduled at given times (each promotion
 * also builds a new standby, which takes a while), between the random faults.
 */
import pg from "pg";

/** The kinds drawn at random. */
export const FAULT_KINDS = [
  "terminate-backends",
  "restart-server",
  "exhaust-pool",
  "idle-in-transaction",
  "kill-runtime",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number] | "failover";

export interface FaultRecord {
  /** Milliseconds since chaos started. */
  atMs: number;
  kind: FaultKind;
  /** What happened, e.g. "7 backends terminated". */
  detail: string;
  /** False when the injection itself failed (it is still logged, not counted). */
  injected: boolean;
}

/** What chaos can act on. Absent capabilities disable their fault. */
export interface ChaosTargets {
  /** A superuser connection string of the server (for pg_terminate_backend and the idle session). */
  adminUrl: string;
  /** application_name prefix of the runtimes' connections. */
  runtimeApplicationName: string;
  /** Restart the server; only for a server this run started. */
  restartServer?: () => Promise<void>;
  /** Hold every connection of a runtime's pool for `ms`; resolves with how many were held. */
  exhaustPool?: (ms: number) => Promise<number>;
  /** SIGKILL one runtime process and start a replacement; only with several runtimes. */
  killRuntime?: () => Promise<string>;
  /** Crash the primary and promote its standby behind the same address; see failover/cluster.ts. */
  failover?: () => Promise<string>;
}

export interface ChaosOptions {
  /** Mean pause between faults; each pause is drawn uniformly from [0.5, 1.5] × this. */
  meanIntervalMs: number;
  log: (line: string) => void;
  random?: () => number;
  /** When to fail over, in ms since chaos started (needs the `failover` target). */
  failoverAtMs?: readonly number[];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class Chaos {
  readonly faults: FaultRecord[] = [];
  private readonly kinds: FaultKind[];
  private readonly failoversDue: number[];
  private readonly random: () => number;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private began = 0;
  /** Faults that outlive their injection (the idle transaction) finish before stop() returns. */
  private readonly lingering = new Set<Promise<unknown>>();
  private wake: () => void = () => {};

  constructor(
    private readonly targets: ChaosTargets,
    private readonly options: ChaosOptions,
  ) {
    this.random = options.random ?? Math.random;
    this.kinds = FAULT_KINDS.filter((kind) => {
      if (kind === "restart-server") return targets.restartServer !== undefined;
      if (kind === "exhaust-pool") return targets.exhaustPool !== undefined;
      if (kind === "kill-runtime") return targets.killRuntime !== undefined;
      return true;
    });
    this.failoversDue = targets.failover ? [...(options.failoverAtMs ?? [])].sort((a, b) => a - b) : [];
  }

  /** The fault kinds this run can inject, and the ones it cannot (with why, for the log). */
  describe(): string {
    const off = FAULT_KINDS.filter((k) => !this.kinds.includes(k));
    const why: Record<string, string> = {
      "restart-server": "the server was not started by this run",
      "kill-runtime": "needs --runtimes 2 or more",
      "exhaust-pool": "no runtime pool to exhaust",
    };
    const failovers = this.failoversDue.map((ms) => `${(ms / 1000).toFixed(1)}s`).join(", ");
    return (
      `chaos: injecting ${this.kinds.join(", ")} every ~${this.options.meanIntervalMs} ms` +
      (failovers ? `; failover at ${failovers}` : "") +
      (off.length > 0
        ? `; not injecting ${off.map((k) => `${k} (${why[k] ?? "unavailable"})`).join(", ")}`
        : "")
    );
  }

  start(): void {
    this.began = Date.now();
    this.options.log(this.describe());
    this.loop = this.run();
  }

  /** Stop injecting, wait for the fault in progress and any lingering one, return the log. */
  async stop(): Promise<FaultRecord[]> {
    this.stopped = true;
    this.wake();
    await this.loop;
    await Promise.allSettled([...this.lingering]);
    return this.faults;
  }

  /** Faults injected per kind (failed injections not counted). */
  counts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const f of this.faults) if (f.injected) counts[f.kind] = (counts[f.kind] ?? 0) + 1;
    return counts;
  }

  total(): number {
    return this.faults.filter((f) => f.injected).length;
  }

  private async run(): Promise<void> {
    // A shuffled bag of every kind: each kind comes up equally often, in random order.
    let bag: FaultKind[] = [];
    while (!this.stopped) {
      const randomPause = this.options.meanIntervalMs * (0.5 + this.random());
      const nextFailover = this.failoversDue[0];
      const elapsed = Date.now() - this.began;
      const pause = nextFailover === undefined ? randomPause : Math.min(randomPause, nextFailover - elapsed);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pause);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (this.stopped) break;
      let kind: FaultKind;
      if (nextFailover !== undefined && Date.now() - this.began >= nextFailover) {
        this.failoversDue.shift();
        kind = "failover";
      } else {
        if (bag.length === 0) bag = this.shuffled(this.kinds);
        kind = bag.pop()!;
      }
      const atMs = Date.now() - this.began;
      try {
        const detail = await this.inject(kind);
        this.record({ atMs, kind, detail, injected: true });
      } catch (error) {
        this.record({ atMs, kind, detail: `injection failed: ${(error as Error).message}`, injected: false });
      }
    }
  }

  private record(fault: FaultRecord): void {
    this.faults.push(fault);
    this.options.log(`[chaos ${(fault.atMs / 1000).toFixed(1)}s] ${fault.kind}: ${fault.detail}`);
  }

  private shuffled(kinds: readonly FaultKind[]): FaultKind[] {
    const bag = [...kinds];
    for (let i = bag.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [bag[i], bag[j]] = [bag[j]!, bag[i]!];
    }
    return bag;
  }

  private async inject(kind: FaultKind): Promise<string> {
    switch (kind) {
      case "terminate-backends":
        return `${await this.terminateRuntimeBackends()} runtime backends terminated`;
      case "restart-server": {
        const t0 = Date.now();
        await this.targets.restartServer!();
        return `server restarted (down ${Date.now() - t0} ms)`;
      }
      case "exhaust-pool": {
        const ms = this.between(1500, 4000);
        return `held ${await this.targets.exhaustPool!(ms)} pooled connections of a runtime for ${ms} ms`;
      }
      case "idle-in-transaction":
        return await this.holdIdleTransaction(this.between(2000, 8000));
      case "kill-runtime":
        return await this.targets.killRuntime!();
      case "failover":
        return await this.targets.failover!();
    }
  }

  private between(min: number, max: number): number {
    return Math.round(min + this.random() * (max - min));
  }

  private async withAdminClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: this.targets.adminUrl, application_name: "pgd-chaos" });
    client.on("error", () => {}); // a restart may kill it; the caller sees the failed query
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => {});
    }
  }

  private async terminateRuntimeBackends(): Promise<number> {
    return await this.withAdminClient(async (client) => {
      const { rows } = await client.query<{ n: string }>(
        `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::text AS n
           FROM pg_stat_activity
          WHERE application_name LIKE $1 || '%' AND pid <> pg_backend_pid()`,
        [this.targets.runtimeApplicationName],
      );
      return Number(rows[0]?.n ?? 0);
    });
  }

  /**
   * Open a transaction that holds an xid and sits idle for `ms`: vacuum cannot remove rows deleted
   * after it began, so queue tables bloat while it lasts. It runs in the background; the next
   * fault does not wait for it.
   */
  private async holdIdleTransaction(ms: number): Promise<string> {
    const client = new pg.Client({
      connectionString: this.targets.adminUrl,
      application_name: "pgd-chaos-idle",
    });
    client.on("error", () => {});
    await client.connect();
    await client.query("BEGIN");
    const { rows } = await client.query<{ xid: string }>("SELECT txid_current()::text AS xid");
    const xid = rows[0]?.xid ?? "?";
    const held = sleep(ms)
      .then(() => client.query("COMMIT"))
      .catch(() => {})
      .finally(() => client.end().catch(() => {}));
    this.lingering.add(held);
    void held.finally(() => this.lingering.delete(held));
    return `idle in transaction (xid ${xid}) for ${ms} ms`;
  }
}
