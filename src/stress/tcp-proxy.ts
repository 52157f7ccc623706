/**
 * A small TCP proxy on node:net: a stable address in front of a server that may move. Failover
 * re-points it at the promoted standby and drops the connections it carried (as a virtual IP or a
 * re-pointed PgBouncer would), so clients reconnect to the new primary at the same address. It can
 * also add latency: every chunk waits `delayMs` in each direction, in order (`--added-latency-ms`).
 *
 * It counts round trips: each new connection's TCP handshake is one, and so is every client
 * write burst that follows a server reply (or opens the connection), however many chunks it
 * arrives in. The store's code never has two requests of one connection in flight, so the count
 * is the number of times a client waited for the server (docs/benchmarks.md).
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
  /**
   * Hold a new connection's upstream connect back by a round trip (2 × delayMs), as a TCP
   * handshake over that distance would (the client's first bytes wait in the proxy). Default false.
   */
  delayConnect?: boolean;
  /** Where the proxy listens. Default 127.0.0.1 on a port the kernel picks. */
  host?: string;
  port?: number;
  /** Sees every chunk a client sends, on arrival (before any delay); for tracing. */
  observer?: ProxyObserver;
}

export interface ProxyObserver {
  /** `startsRoundTrip`: the chunk opens a new write burst (the first since the server last spoke). */
  /** A client connected (its TCP handshake is a round trip). */
  opened?(connection: number): void;
  clientData(connection: number, chunk: Buffer, startsRoundTrip: boolean): void;
  /** The server sent something on `connection` (on arrival, before any delay). */
  serverData?(connection: number): void;
  closed?(connection: number): void;
}

interface Pair {
  id: number;
  client: Socket;
  upstream: Socket;
  /** True until the client writes again after the server last sent something. */
  serverSpoke: boolean;
}

export class TcpProxy {
  /** Milliseconds each chunk is held back; may be changed while connections are open. */
  delayMs: number;
  private current: ProxyTarget;
  private readonly pairs = new Set<Pair>();
  private nextId = 1;
  private readonly observer: ProxyObserver | undefined;
  private readonly delayConnect: boolean;
  /** TCP handshakes plus client write bursts that followed a server reply, all connections. */
  roundTrips = 0;
  /** Connections accepted so far. */
  accepted = 0;

  private constructor(
    private readonly server: Server,
    readonly host: string,
    readonly port: number,
    options: TcpProxyOptions,
  ) {
    this.current = { ...options.target };
    this.delayMs = options.delayMs ?? 0;
    this.observer = options.observer;
    this.delayConnect = options.delayConnect ?? false;
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
    const pair: Pair = { id: this.nextId++, client, upstream, serverSpoke: true };
    this.pairs.add(pair);
    this.accepted++;
    this.roundTrips++; // the TCP handshake
    this.observer?.opened?.(pair.id);
    // Counted on arrival, before any delay; the relays below are separate listeners.
    client.on("data", (chunk: Buffer) => {
      const startsRoundTrip = pair.serverSpoke;
      if (startsRoundTrip) this.roundTrips++;
      pair.serverSpoke = false;
      this.observer?.clientData(pair.id, chunk, startsRoundTrip);
    });
    upstream.on("data", () => {
      pair.serverSpoke = true;
      this.observer?.serverData?.(pair.id);
    });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const close = () => this.closePair(pair);
    for (const socket of [client, upstream]) {
      socket.on("error", close);
      socket.on("close", close);
    }
    this.relay(client, upstream);
    this.relay(upstream, client);
    const target = this.current;
    const connect = () => {
      if (this.pairs.has(pair)) upstream.connect(target.port, target.host);
    };
    if (this.delayConnect && this.delayMs > 0) {
      // The client's first bytes leave only once the handshake is done, then travel as any other.
      client.pause();
      upstream.once("connect", () => client.resume());
      setTimeout(connect, 2 * this.delayMs);
    } else connect();
  }

  private closePair(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    this.observer?.closed?.(pair.id);
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
