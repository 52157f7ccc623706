/**
 * Streaming replication between throw-away servers started from local binaries (e.g. Debian's
 * /usr/lib/postgresql/15/bin): a primary, a standby cloned from it with `pg_basebackup -R` over a
 * replication slot, and promotion. Used by the stress run's failover fault.
 *
 * Synchronous replication is `synchronous_standby_names = '*'` on every node: a commit on the
 * primary returns only once a standby has flushed it, and a promoted standby accepts no commit
 * until a standby of its own streams, so no acknowledged commit ever has a single copy.
 * Asynchronous replication leaves it empty: commits return at once and a promotion loses
 * whatever the standby had not received yet.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chown, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { freePort } from "./embedded-postgres.ts";
import { run, serverUser, waitUntilReady } from "./local-postgres.ts";

export type ReplicationMode = "sync" | "async";

const PASSWORD = "postgres";
const STREAMING_TIMEOUT_MS = 60_000;

export interface NodeOptions {
  binDir: string;
  /** A directory the server user can enter; the node's data directory is created inside. */
  root: string;
  /** Also the node's cluster_name, which its WAL receiver reports as application_name. */
  name: string;
  mode: ReplicationMode;
  /** Extra `postgres -c` settings. */
  settings?: Record<string, string>;
}

export interface StandbyOptions {
  /**
   * Stream from this port instead of the primary's own, e.g. a proxy that delays the WAL so an
   * asynchronous standby lags behind like one in another zone. The base backup still comes
   * straight from the primary.
   */
  streamFromPort?: number;
}

function nodeSettings(o: NodeOptions): Record<string, string> {
  return {
    listen_addresses: "127.0.0.1",
    unix_socket_directories: "", // TCP only: no socket directory to own
    max_connections: "300",
    shared_buffers: "128MB",
    cluster_name: o.name,
    synchronous_standby_names: o.mode === "sync" ? "*" : "",
    // A standby whose primary restarted reconnects within half a second (default 5 s).
    wal_retrieve_retry_interval: "500ms",
    ...o.settings,
  };
}

/** One server process on its own data directory: a primary, or a standby until promoted. */
export class PgNode {
  private server: ChildProcess | null = null;
  readonly url: string;

  private constructor(
    readonly options: NodeOptions,
    readonly dataDir: string,
    readonly port: number,
  ) {
    this.url = `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`;
  }

  get name(): string {
    return this.options.name;
  }

  /** initdb a new cluster (superuser postgres/postgres, scram over TCP) and start it. */
  static async initPrimary(options: NodeOptions): Promise<PgNode> {
    const node = new PgNode(options, await makeDataDir(options), await freePort());
    const passwordFile = join(options.root, `${options.name}.pwfile`);
    await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o644 });
    try {
      await run(
        join(options.binDir, "initdb"),
        [
          `--pgdata=${node.dataDir}`,
          "--username=postgres",
          `--pwfile=${passwordFile}`,
          "--auth=scram-sha-256", // initdb's pg_hba also admits replication connections from 127.0.0.1
          "--encoding=UTF8",
          "--locale=C",
        ],
        serverUser(),
      );
    } finally {
      await rm(passwordFile, { force: true });
    }
    await node.start();
    return node;
  }

  /**
   * Clone `primary` with pg_basebackup (-R writes primary_conninfo and standby.signal; -C -S
   * creates a replication slot so the primary keeps the WAL the standby still needs) and start
   * it as a hot standby. Resolves once the primary sees it streaming (as a synchronous standby in
   * sync mode).
   */
  static async standbyOf(
    primary: PgNode,
    options: NodeOptions,
    standby: StandbyOptions = {},
  ): Promise<PgNode> {
    const settings = { ...options.settings };
    if (standby.streamFromPort !== undefined) {
      // On the command line, it overrides the primary_conninfo that -R writes.
      settings.primary_conninfo = `host=127.0.0.1 port=${standby.streamFromPort} user=postgres password=${PASSWORD} application_name=${options.name}`;
    }
    const node = new PgNode({ ...options, settings }, await makeDataDir(options), await freePort());
    const slot = options.name.replace(/[^a-z0-9_]/gi, "_").toLowerCase();
    await run(
      join(options.binDir, "pg_basebackup"),
      [
        `--dbname=${primary.url}`,
        `--pgdata=${node.dataDir}`,
        "--write-recovery-conf",
        "--create-slot",
        `--slot=${slot}`,
        "--wal-method=stream",
        "--checkpoint=fast",
        "--no-sync", // a throw-away copy; the server fsyncs what it writes from here on
      ],
      serverUser(),
    );
    await node.start();
    await primary.waitForStandby(options.name, options.mode);
    return node;
  }

  async start(): Promise<void> {
    const flags = Object.entries(nodeSettings(this.options)).flatMap(([k, v]) => ["-c", `${k}=${v}`]);
    const server = spawn(
      join(this.options.binDir, "postgres"),
      ["-D", this.dataDir, "-p", String(this.port), ...flags],
      { ...serverUser(), stdio: "ignore" },
    );
    this.server = server;
    await waitUntilReady(this.url, server);
  }

  /** Fast shutdown (SIGINT): roll back open transactions, checkpoint, exit. */
  async stop(): Promise<void> {
    await this.signal("SIGINT");
  }

  /**
   * Immediate shutdown (SIGQUIT): every backend exits at once, nothing is flushed or
   * checkpointed; on disk it is a crash.
   */
  async crash(): Promise<void> {
    await this.signal("SIGQUIT");
  }

  /** Stop the server (if running) and delete its data directory. */
  async remove(): Promise<void> {
    await this.stop();
    await rm(this.dataDir, { recursive: true, force: true });
  }

  /** Promote this standby; resolves once it accepts writes. */
  async promote(): Promise<void> {
    await this.withClient(async (client) => {
      const { rows } = await client.query<{ ok: boolean }>("SELECT pg_promote(true, 60) AS ok");
      if (!rows[0]?.ok) throw new Error(`${this.name}: pg_promote did not finish within 60 s`);
    });
  }

  /**
   * Wait until standby `name` streams from this node and has reported what it flushed (as the
   * synchronous one in sync mode).
   */
  async waitForStandby(name: string, mode: ReplicationMode, timeoutMs = STREAMING_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = await this.withClient(async (client) => {
        const { rows } = await client.query<{ sync_state: string }>(
          `SELECT sync_state FROM pg_stat_replication
            WHERE application_name = $1 AND state = 'streaming' AND flush_lsn IS NOT NULL`,
          [name],
        );
        return rows.some((r) => (mode === "sync" ? r.sync_state === "sync" : true));
      }).catch(() => false);
      if (found) return;
      if (Date.now() > deadline)
        throw new Error(`standby ${name} is not streaming from ${this.name} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** How many bytes of WAL standby `name` has not flushed yet (null when it is not connected). */
  async lagBytes(name: string): Promise<number | null> {
    return await this.withClient(async (client) => {
      const { rows } = await client.query<{ lag: string | null }>(
        `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::text AS lag
           FROM pg_stat_replication WHERE application_name = $1`,
        [name],
      );
      return rows[0]?.lag == null ? null : Number(rows[0].lag);
    });
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const server = this.server;
    if (!server || server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => server.once("exit", () => resolve()));
    server.kill(signal);
    await exited;
  }

  private async withClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: this.url, application_name: "pgd-replica-admin" });
    client.on("error", () => {});
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => {});
    }
  }
}

/** An empty data directory inside `root`, owned by the server user (mode 0700, as initdb wants). */
async function makeDataDir(options: NodeOptions): Promise<string> {
  const dir = join(options.root, options.name);
  await mkdir(dir, { mode: 0o700 });
  const user = serverUser();
  if (user.uid !== undefined) await chown(dir, user.uid, user.gid ?? user.uid);
  return dir;
}
