/**
 * The LISTEN listener behind PostgresProvider's wake-ups (postgres-wakeups.ts): one LISTEN
 * connection per provider, on the channels the store's triggers notify when orchestrator or worker
 * work arrives (migrations/0013_wakeup_notifications.sql).
 *
 * A fetch that finds nothing sleeps until a notification of its queue, the deadline its waiter
 * gives (the next delayed row or lock expiry, the caller's timeout), or its signal, whichever comes
 * first, then fetches again. Waits are keyed on a per-queue generation counter read *before* the
 * fetch, so a notification that lands while the fetch runs is never missed. While the LISTEN
 * connection is down, waits are cut to a short polling interval until it reconnects: polling
 * covers the gap.
 *
 * A wake-up must reach a fetch that can take the work (wakeup-routing.ts): a worker notification
 * says what arrived (how many items, their tag, session and session owner), and only waiting
 * fetches that accept it are woken — as many as items arrived, oldest first. An undescribed
 * notification (orchestrator queue) wakes one waiting fetch of each kind (capability filter).
 * Identical waiters still cost one fetch per item: that is the economy wakeOne was for, since
 * waking every idle dispatcher sent all but one to the store for nothing. A woken fetch that
 * comes back empty does not swallow its wake-up: passOn() hands it to a waiting fetch of a kind
 * the wake-up has not reached yet (e.g. the session's new owner), so it ends after at most one
 * fetch per kind.
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
import {
  ANY_FETCH,
  type Arrival,
  parseArrival,
  undescribedArrival,
  type WaiterProfile,
} from "./wakeup-routing.ts";

export type WakeupQueue = "orch" | "work";

/** A wake-up in flight: what arrived, and the kinds of fetch it has reached so far. */
export interface WakeToken {
  readonly queue: WakeupQueue;
  arrival: Arrival;
  readonly reached: Set<string>;
}

interface Waiter {
  readonly profile: WaiterProfile;
  /** Resolve the wait; `token` when a wake-up (rather than a timer or interruption) ends it. */
  wake(token: WakeToken | null): void;
}

/** Session owners remembered from this provider's fetches (a bound, not a cache to tune). */
const MAX_REMEMBERED_SESSIONS = 10_000;

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
  private readonly waiters: Record<WakeupQueue, Set<Waiter>> = { orch: new Set(), work: new Set() };
  /** Session → owner id, as fetches through this provider claimed them (see passOn). */
  private readonly sessionOwners = new Map<string, string>();
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

  /** close() was called: waits return at once. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Current generation of a queue; also makes sure the listener is (being) connected. */
  generation(queue: WakeupQueue): number {
    this.ensureConnected();
    return this.generations[queue];
  }

  /**
   * Wait until this waiter is woken, the queue's generation has already moved past `seen`
   * (a notification arrived while the caller was fetching), `ms` pass, `signal` aborts, or waits
   * are interrupted. `profile` says which wake-ups this fetch can use. Returns the wake-up that
   * ended the wait, if one did: when the fetch that follows finds nothing, hand it to passOn().
   */
  async waitForChange(
    queue: WakeupQueue,
    seen: number,
    ms: number,
    profile: WaiterProfile = ANY_FETCH,
    signal?: AbortSignal,
  ): Promise<WakeToken | null> {
    const limit = this.connected
      ? ms
      : Math.min(ms, this.listenUnavailable ? POLLING_FALLBACK_MS : DISCONNECTED_POLL_MS);
    if (limit <= 0 || this.generations[queue] !== seen || this.closed || signal?.aborted) return null;
    return await new Promise<WakeToken | null>((resolve) => {
      const waiter: Waiter = {
        profile,
        wake: (token) => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", interrupted);
          this.waiters[queue].delete(waiter);
          resolve(token);
        },
      };
      const interrupted = () => waiter.wake(null);
      const timer = setTimeout(interrupted, limit);
      signal?.addEventListener("abort", interrupted, { once: true });
      this.waiters[queue].add(waiter);
    });
  }

  /**
   * The fetch woken by `token` found nothing: wake a waiting fetch of a kind the wake-up has not
   * reached yet that accepts it, if any (one per call; it passes the wake-up on again in turn if
   * it finds nothing either). Each kind is reached once, so a wake-up cannot circle between
   * waiters. No-op for null (a wait that ended without a wake-up).
   */
  passOn(token: WakeToken | null): void {
    if (!token || this.closed) return;
    const { arrival } = token;
    if (arrival.session !== null && arrival.owner === null) {
      // Unowned when inserted, so every fetch that claims sessions was eligible; if one of ours has
      // claimed it since, only that one can take the item now.
      const owner = this.sessionOwners.get(arrival.session);
      if (owner !== undefined) token.arrival = { ...arrival, owner };
    }
    for (const waiter of this.waiters[token.queue]) {
      if (!waiter.profile.accepts(token.arrival)) continue;
      const kind = waiter.profile.kind(token.arrival);
      if (token.reached.has(kind)) continue;
      token.reached.add(kind);
      waiter.wake(token);
      return;
    }
  }

  /** A fetch through this provider claimed (or kept) `session` for `owner`: see passOn(). */
  sessionFetched(session: string, owner: string): void {
    this.sessionOwners.delete(session); // re-insert: the Map's order is then least recently fetched first
    this.sessionOwners.set(session, owner);
    if (this.sessionOwners.size > MAX_REMEMBERED_SESSIONS) {
      const oldest = this.sessionOwners.keys().next();
      if (!oldest.done) this.sessionOwners.delete(oldest.value);
    }
  }

  /**
   * Work was enqueued through this very provider: while notifications do not arrive (LISTEN
   * unavailable, or not connected yet), wake one waiting fetch of `queue` of each kind now instead
   * of at its next poll. With LISTEN, the NOTIFY does this (and a second wake would send two
   * fetchers).
   */
  enqueuedLocally(queue: WakeupQueue): void {
    if (this.connected) return;
    this.generations[queue]++;
    this.deliver(queue, undescribedArrival());
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
    for (const queue of ["orch", "work"] as const)
      for (const waiter of [...this.waiters[queue]]) waiter.wake(null);
  }

  /**
   * Wake the waiting fetches that should take `arrival`, oldest first: for a described arrival,
   * up to `count` fetches that accept it; for an undescribed one, up to `count` of each kind.
   */
  private deliver(queue: WakeupQueue, arrival: Arrival): void {
    const token: WakeToken = { queue, arrival, reached: new Set() };
    const perKind = new Map<string, number>();
    let woken = 0;
    for (const waiter of [...this.waiters[queue]]) {
      if (arrival.described && woken >= arrival.count) break;
      if (!waiter.profile.accepts(arrival)) continue;
      const kind = waiter.profile.kind(arrival);
      const ofKind = perKind.get(kind) ?? 0;
      if (!arrival.described && ofKind >= arrival.count) continue;
      perKind.set(kind, ofKind + 1);
      woken++;
      token.reached.add(kind);
      waiter.wake(token);
    }
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
      // One item, one fetcher (one that can take it): waking every idle dispatcher sent all but one
      // of them to the store to find nothing. Busy dispatchers fetch again after each item anyway.
      this.generations[queue]++;
      this.deliver(queue, queue === "work" ? parseArrival(message.payload) : undescribedArrival());
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
