/**
 * The server of a failover run (`--failover sync|async`): a primary and a streaming standby from
 * local binaries, behind a TCP proxy whose address never changes. Every runtime, the client and
 * the harness connect through the proxy.
 *
 * A failover crashes the primary (immediate shutdown), promotes the standby, re-points the proxy
 * and drops the connections it carried, then clones a new standby from the new primary, so the
 * run can fail over again. Operations on the servers (failover, restart) run one at a time.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EmbeddedServer } from "../../testing/embedded-postgres.ts";
import { PgNode, type ReplicationMode } from "../../testing/replica.ts";
import { TcpProxy } from "../tcp-proxy.ts";

export interface FailoverCluster extends EmbeddedServer {
  readonly mode: ReplicationMode;
  /** Failovers done so far. */
  readonly failovers: number;
  /** Crash the primary, promote the standby, re-point the proxy, build a new standby. */
  failover(): Promise<string>;
  /**
   * Hold the WAL sent to the standby from now until the next failover (which drops it): makes the
   * loss of the next acknowledged commits certain in async mode, whatever the machine's load.
   */
  holdReplication(): void;
}

export interface FailoverClusterOptions {
  /**
   * One-way delay of the WAL stream to the standby (it goes through a proxy of its own). Default:
   * 200 ms in async mode, so the standby lags and a failover loses acknowledged commits, as it can
   * in production; 0 in sync mode, where every commit would wait two of them.
   */
  replicationDelayMs?: number;
}

export async function startFailoverCluster(
  binDir: string,
  mode: ReplicationMode,
  clusterOptions: FailoverClusterOptions = {},
): Promise<FailoverCluster> {
  const root = await mkdtemp(join(tmpdir(), "pg-durable-failover-"));
  await chmod(root, 0o755); // the server user must reach the data directories inside
  let nodes = 0;
  const options = () => ({ binDir, root, mode, name: `node${++nodes}` });
  let primary: PgNode | null = null;
  let standby: PgNode | null = null;
  let proxy: TcpProxy | null = null;
  let walProxy: TcpProxy | null = null;
  try {
    primary = await PgNode.initPrimary(options());
    walProxy = await TcpProxy.start({
      target: { host: "127.0.0.1", port: primary.port },
      delayMs: clusterOptions.replicationDelayMs ?? (mode === "async" ? 200 : 0),
    });
    standby = await PgNode.standbyOf(primary, options(), { streamFromPort: walProxy.port });
    proxy = await TcpProxy.start({ target: { host: "127.0.0.1", port: primary.port } });
  } catch (error) {
    await walProxy?.close();
    await standby?.remove().catch(() => {});
    await primary?.remove().catch(() => {});
    await rm(root, { recursive: true, force: true });
    throw error;
  }
  return new Cluster(root, mode, primary, standby, proxy, walProxy, walProxy.delayMs, options);
}

class Cluster implements FailoverCluster {
  readonly url: string;
  readonly port: number;
  failovers = 0;
  /** The tail of the operations queue: each operation starts when the previous one settled. */
  private busy: Promise<unknown> = Promise.resolve();

  constructor(
    readonly dataDir: string,
    readonly mode: ReplicationMode,
    private primary: PgNode,
    private standby: PgNode,
    private readonly proxy: TcpProxy,
    /** The standby streams through this one (see FailoverClusterOptions.replicationDelayMs). */
    private readonly walProxy: TcpProxy,
    private readonly replicationDelayMs: number,
    private readonly nextNode: () => { binDir: string; root: string; mode: ReplicationMode; name: string },
  ) {
    this.port = proxy.port;
    this.url = `postgres://postgres:postgres@127.0.0.1:${proxy.port}/postgres`;
  }

  private serially<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.busy.then(operation);
    this.busy = result.catch(() => {});
    return result;
  }

  failover(): Promise<string> {
    return this.serially(async () => {
      const old = this.primary;
      const promoted = this.standby;
      // Fail over only to a standby that streams (synchronously in sync mode): after a restart of
      // the primary it may still be reconnecting.
      await old.waitForStandby(promoted.name, this.mode);
      const lag = await old.lagBytes(promoted.name).catch(() => null);
      const t0 = Date.now();
      await old.crash();
      // WAL still queued in the delaying proxy dies with the primary, as if it were on its wire.
      this.walProxy.dropConnections();
      await promoted.promote();
      const dropped = this.proxy.retarget({ host: "127.0.0.1", port: promoted.port });
      const downMs = Date.now() - t0;
      this.primary = promoted;
      this.failovers++;
      await old.remove();
      // In sync mode the new primary holds every commit until this standby streams.
      const t1 = Date.now();
      this.walProxy.retarget({ host: "127.0.0.1", port: promoted.port });
      this.walProxy.delayMs = this.replicationDelayMs; // after holdReplication()
      this.standby = await PgNode.standbyOf(promoted, this.nextNode(), {
        streamFromPort: this.walProxy.port,
      });
      return (
        `primary ${old.name} crashed (immediate shutdown) with its ${this.mode} standby ${promoted.name} ` +
        `${lag === null ? "at an unknown lag" : `${lag} WAL bytes behind`}; standby promoted ` +
        `and the proxy re-pointed in ${downMs} ms (${dropped} connections dropped); ` +
        `new standby ${this.standby.name} streaming after ${Date.now() - t1} ms`
      );
    });
  }

  holdReplication(): void {
    this.walProxy.delayMs = 24 * 3600_000;
  }

  /** Restart the current primary (fast shutdown); its standby reconnects by itself. */
  restart(): Promise<void> {
    return this.serially(async () => {
      await this.primary.stop();
      await this.primary.start();
    });
  }

  async stop(): Promise<void> {
    await this.busy;
    await this.proxy.close();
    await this.walProxy.close();
    await this.primary.remove().catch(() => {});
    await this.standby.remove().catch(() => {});
    await rm(this.dataDir, { recursive: true, force: true });
  }
}
