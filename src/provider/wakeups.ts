/**
 * Long-poll wake-ups: one LISTEN connection per provider, on the channels the store's triggers
 * notify when orchestrator or worker work arrives (migrations/0013_wakeup_notifications.sql).
 *
 * A fetch that finds nothing sleeps until a notification of its queue, the next delayed row or
 * lock expiry, or its deadline, whichever comes first, then fetches again. Waits are keyed on a
 * per-queue generation counter read *before* the fetch, so a notification that lands while the
 * fetch runs is never missed. While the LISTEN connection is down, waits are cut to a short
 * polling interval until it reconnects: polling covers the gap.
 *
 * The first connection checks that LISTEN works on it (listen-probe.ts). Behind a pooler in
 * transaction mode it does not: the listener then warns once, closes its connection and polls for
 * good (waits cut to POLLING_FALLBACK_MS). A direct connection string for the listener alone
 * (PostgresProviderOptions.listenConnectionString) keeps LISTEN behind such a pooler.
 *
 * The listener's socket does not keep the process alive (unref): once the runtime has shut down,
 * a program may exit without closing the provider.
 */
import { createHash } from "node:crypto";
import pg from "pg";
import { DEFAULT_PROBE_TIMEOUT_MS, probeListenOn } from "./listen-probe.ts";

export type WakeupQueue = "orch" | "work";

/** How long a wait may last while the LISTEN connection is down. */
const DISCONNECTED_POLL_MS = 100;
/**
 * How long a wait may last when LISTEN does not work on this connection: each idle dispatcher
 * then looks at the store about four times a second (two short queries) instead of on notice.
 */
export const POLLING_FALLBACK_MS = 250;
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;

export function wakeupChannel(schema: string, queue: WakeupQueue): string {
  return `pgd_${createHash("md5").update(schema).digest("hex").slice(0, 16)}_${queue}`;
}

export class WakeupListener {
  private client: pg.Client | null = null;
  private connecting: Promise<void> | null = null;
  private connected = false;
  private closed = false;
  private reconnectDelay = RECONNECT_MIN_MS;
  private readonly generations: Record<WakeupQueue, number> = { orch: 0, work: 0 };
  /** Bumped by interruptWaits(): a long poll that started before it gives up instead of waiting again. */
  private interruptions = 0;
  /** Waiting long polls per queue, oldest first (a Set keeps insertion order). */
  private readonly waiters: Record<WakeupQueue, Set<() => void>> = { orch: new Set(), work: new Set() };
  /** Whether the first connection has been checked for LISTEN yet (once per listener). */
  private probed = false;
  /** LISTEN does not work on this connection: poll instead, never connect again. */
  private listenUnavailable = false;
  private readonly closing = new AbortController();

  constructor(
    private readonly clientConfig: pg.ClientConfig,
    private readonly schema: string,
    private readonly log: (message: string) => void = () => {},
    private readonly probeTimeoutMs: number = DEFAULT_PROBE_TIMEOUT_MS,
  ) {}

  /** "listen" once notifications are known to arrive, "polling" when LISTEN is unavailable. */
  mode(): "connecting" | "listen" | "polling" {
    if (this.listenUnavailable) return "polling";
    return this.connected ? "listen" : "connecting";
  }

  /** Current generation of a queue; also makes sure the listener is (being) connected. */
  generation(queue: WakeupQueue): number {
    this.ensureConnected();
    return this.generations[queue];
  }

  /**
   * Wait until this waiter is woken, the queue's generation has already moved past `seen`
   * (a notification arrived while the caller was fetching), `ms` pass, or waits are interrupted.
   */
  async waitForChange(queue: WakeupQueue, seen: number, ms: number): Promise<void> {
    const limit = this.connected
      ? ms
      : Math.min(ms, this.listenUnavailable ? POLLING_FALLBACK_MS : DISCONNECTED_POLL_MS);
    if (limit <= 0 || this.generations[queue] !== seen || this.closed) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters[queue].delete(done);
        resolve();
      };
      const timer = setTimeout(done, limit);
      this.waiters[queue].add(done);
    });
  }

  /**
   * Work was enqueued through this very provider: while notifications do not arrive (LISTEN
   * unavailable, or not connected yet), wake one waiting fetch of `queue` now instead of at its
   * next poll. With LISTEN, the NOTIFY does this (and a second wake would send two fetchers).
   */
  enqueuedLocally(queue: WakeupQueue): void {
    if (this.connected) return;
    this.generations[queue]++;
    this.wakeOne(queue);
  }

  /** Counter a long poll reads when it starts; see interruptWaits(). */
  interruptionCount(): number {
    return this.interruptions;
  }

  /** End every waiting long poll now, returning "nothing" (shutdown must not wait for them). */
  interruptWaits(): void {
    this.interruptions++;
    this.recheckAll();
  }

  /** Wake every waiter to fetch again (something may have been missed). */
  private recheckAll(): void {
    this.generations.orch++;
    this.generations.work++;
    this.wakeAll();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.closing.abort(); // a LISTEN probe in flight stops waiting
    this.interruptions++;
    this.wakeAll();
    const client = this.client;
    this.client = null;
    this.connected = false;
    await client?.end().catch(() => {});
  }

  private wakeAll(): void {
    for (const queue of ["orch", "work"] as const) for (const wake of [...this.waiters[queue]]) wake();
  }

  private wakeOne(queue: WakeupQueue): void {
    const first = this.waiters[queue].values().next();
    if (!first.done) first.value();
  }

  private ensureConnected(): void {
    if (this.connected || this.connecting || this.closed || this.listenUnavailable) return;
    this.connecting = this.connect().finally(() => {
      this.connecting = null;
    });
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.clientConfig);
    client.on("notification", (message) => {
      const queue: WakeupQueue | null =
        message.channel === wakeupChannel(this.schema, "orch")
          ? "orch"
          : message.channel === wakeupChannel(this.schema, "work")
            ? "work"
            : null;
      if (!queue) return;
      // One notification, one fetcher: waking every idle dispatcher sent all but one of them to
      // the store to find nothing. Busy dispatchers fetch again after each item anyway.
      this.generations[queue]++;
      this.wakeOne(queue);
    });
    const lost = (error?: Error) => {
      if (this.client !== client) return;
      this.client = null;
      this.connected = false;
      if (error) this.log(`wake-up listener lost its connection: ${error.message}`);
      client.end().catch(() => {});
      // Anything may have been enqueued while we were not listening: let every waiter re-fetch.
      this.recheckAll();
      if (!this.closed) {
        const delay = this.reconnectDelay;
        this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MAX_MS);
        setTimeout(() => this.ensureConnected(), delay).unref();
      }
    };
    client.on("error", lost);
    client.on("end", () => lost());
    try {
      await client.connect();
      // Idle, this connection must not keep the process alive (the waits' timers do while a
      // runtime polls); close() remains the way to end it.
      (client.connection.stream as { unref?: () => void }).unref?.();
      if (!this.probed) {
        const probe = await probeListenOn(
          client,
          this.clientConfig,
          this.probeTimeoutMs,
          this.closing.signal,
        );
        if (this.closed) {
          await client.end();
          return;
        }
        this.probed = true;
        if (!probe.works) {
          this.listenUnavailable = true;
          this.log(
            `LISTEN/NOTIFY is unavailable on this connection (${probe.detail}); ` +
              `falling back to polling the store every ${POLLING_FALLBACK_MS} ms while idle. ` +
              "Behind PgBouncer in transaction mode, pass listenConnectionString (a direct or " +
              "session-mode URL) to keep instant wake-ups.",
          );
          await client.end().catch(() => {});
          this.recheckAll();
          return;
        }
      }
      await client.query(`LISTEN ${pg.escapeIdentifier(wakeupChannel(this.schema, "orch"))}`);
      await client.query(`LISTEN ${pg.escapeIdentifier(wakeupChannel(this.schema, "work"))}`);
      if (this.closed) {
        await client.end();
        return;
      }
      this.client = client;
      this.connected = true;
      this.reconnectDelay = RECONNECT_MIN_MS;
      // Work may have arrived before LISTEN took effect.
      this.recheckAll();
    } catch (error) {
      this.client = client;
      lost(error as Error);
    }
  }
}
