/**
 * A small TCP proxy on node:net: a stable address in front of a server that may move. Failover
 * re-points it at the promoted standby and drops the connections it carried (as a virtual IP or a
 * re-pointed PgBouncer would), so clients reconnect to the new primary at the same address. It can
 * also add latency: every chunk waits `delayMs` in each direction, in order.
 */
import { createServer, type Server, Socket } from "node:net";

export interface ProxyTarget {
  host: string;
  port: number;
}

export interface TcpProxyOptions {
  target: ProxyTarget;
  /** Added to every chunk in each direction (so a round trip gains twice this). Default 0. */
  delayMs?: number;
  /** Where the proxy listens. Default 127.0.0.1 on a port the kernel picks. */
  host?: string;
  port?: number;
}

interface Pair {
  client: Socket;
  upstream: Socket;
}

export class TcpProxy {
  /** Milliseconds each chunk is held back; may be changed while connections are open. */
  delayMs: number;
  private current: ProxyTarget;
  private readonly pairs = new Set<Pair>();

  private constructor(
    private readonly server: Server,
    readonly host: string,
    readonly port: number,
    options: TcpProxyOptions,
  ) {
    this.current = { ...options.target };
    this.delayMs = options.delayMs ?? 0;
    server.on("connection", (client) => this.accept(client));
  }

  static async start(options: TcpProxyOptions): Promise<TcpProxy> {
    const server = createServer();
    const host = options.host ?? "127.0.0.1";
    const port = await new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, host, () => {
        const address = server.address();
        resolve(typeof address === "object" && address ? address.port : 0);
      });
    });
    return new TcpProxy(server, host, port, options);
  }

  get target(): ProxyTarget {
    return { ...this.current };
  }

  /** Connections open right now. */
  get connections(): number {
    return this.pairs.size;
  }

  /**
   * Send new connections to `target`; by default also drop every open connection, which still
   * leads to the old one. Returns how many were dropped.
   */
  retarget(target: ProxyTarget, dropExisting = true): number {
    this.current = { ...target };
    return dropExisting ? this.dropConnections() : 0;
  }

  /** Close every open connection (both sides, at once). Returns how many there were. */
  dropConnections(): number {
    const n = this.pairs.size;
    for (const pair of [...this.pairs]) this.closePair(pair);
    return n;
  }

  /** Stop listening and drop every connection. */
  async close(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    // A connection that cannot reach the target is closed at once: the client sees a broken
    // connection and retries, as it would if the server itself refused it.
    const upstream = new Socket();
    const pair = { client, upstream };
    this.pairs.add(pair);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const close = () => this.closePair(pair);
    for (const socket of [client, upstream]) {
      socket.on("error", close);
      socket.on("close", close);
    }
    this.relay(client, upstream);
    this.relay(upstream, client);
    upstream.connect(this.current.port, this.current.host);
  }

  private closePair(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    pair.client.destroy();
    pair.upstream.destroy();
  }

  /**
   * Copy `from` to `to`, each chunk no earlier than `delayMs` after it arrived, in arrival order
   * (a FIFO drained by one timer, so lowering the delay never reorders bytes). Backpressure: a
   * full `to` pauses `from`.
   */
  private relay(from: Socket, to: Socket): void {
    const queue: { due: number; chunk: Buffer }[] = [];
    let timer: NodeJS.Timeout | null = null;
    let ended = false;
    const write = (chunk: Buffer) => {
      if (!to.destroyed && !to.write(chunk)) from.pause();
    };
    const flush = () => {
      timer = null;
      const now = Date.now();
      while (queue.length > 0 && queue[0]!.due <= now) write(queue.shift()!.chunk);
      if (queue.length > 0) timer = setTimeout(flush, queue[0]!.due - now);
      else if (ended) to.end();
    };
    to.on("drain", () => from.resume());
    from.on("data", (chunk: Buffer) => {
      if (this.delayMs <= 0 && queue.length === 0) {
        write(chunk);
        return;
      }
      queue.push({ due: Date.now() + this.delayMs, chunk });
      timer ??= setTimeout(flush, Math.max(0, queue[0]!.due - Date.now()));
    });
    from.on("end", () => {
      ended = true;
      if (queue.length === 0) to.end();
    });
    from.on("close", () => {
      if (timer) clearTimeout(timer);
    });
  }
}
