/**
 * Does LISTEN/NOTIFY work on this connection? A direct connection or PgBouncer in session mode:
 * yes. PgBouncer in transaction (or statement) mode: no. LISTEN is accepted there, but it runs on
 * whichever server connection the pooler lent for that one statement, and notifications later
 * arrive on that server connection (or nowhere the client can see), never on the client's.
 *
 * Nothing in the protocol says which of the two a connection is, so the only honest test is to
 * try: LISTEN a random channel on one connection, NOTIFY it from another, and wait for delivery.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

export interface ListenProbeResult {
  works: boolean;
  detail: string;
}

/** Long enough for a loaded server to deliver; a notification normally arrives in milliseconds. */
export const DEFAULT_PROBE_TIMEOUT_MS = 3_000;

/**
 * Open two connections from `config`: LISTEN a random channel on the first, NOTIFY it from the
 * second, and report whether the notification reached the first within `timeoutMs`. A connection
 * that cannot be opened is reported as `works: false` with the reason in `detail`.
 */
export async function probeListen(
  config: pg.ClientConfig,
  options?: { timeoutMs?: number },
): Promise<ListenProbeResult> {
  const listener = new pg.Client(config);
  listener.on("error", () => {}); // reported by the awaited calls below
  try {
    await listener.connect();
  } catch (error) {
    await listener.end().catch(() => {});
    return { works: false, detail: `could not connect to probe LISTEN: ${messageOf(error)}` };
  }
  try {
    return await probeListenOn(listener, config, options?.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS);
  } catch (error) {
    return { works: false, detail: messageOf(error) };
  } finally {
    await listener.end().catch(() => {});
  }
}

/**
 * The probe on an already connected `listener` (the wake-up listener checks its own connection
 * this way); the NOTIFY goes through a short-lived second connection from `notifierConfig`.
 * Leaves the listener with no probe channel LISTENed. Throws when a connection fails (that says
 * nothing about LISTEN); `signal` ends the wait early, as "not delivered".
 */
export async function probeListenOn(
  listener: pg.Client,
  notifierConfig: pg.ClientConfig,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<ListenProbeResult> {
  const channel = `pgd_probe_${randomBytes(8).toString("hex")}`;
  const payload = randomBytes(8).toString("hex");
  let arrived = false;
  let wake: (() => void) | undefined;
  const onNotification = (message: pg.Notification) => {
    if (message.channel !== channel || message.payload !== payload) return;
    arrived = true;
    wake?.();
  };
  listener.on("notification", onNotification);
  let timer: NodeJS.Timeout | undefined;
  const notifier = new pg.Client(notifierConfig);
  notifier.on("error", () => {});
  try {
    await listener.query(`LISTEN ${pg.escapeIdentifier(channel)}`).catch((error: unknown) => {
      throw new Error(`LISTEN failed: ${messageOf(error)}`, { cause: error });
    });
    try {
      await notifier.connect();
      await notifier.query("SELECT pg_notify($1, $2)", [channel, payload]);
    } catch (error) {
      throw new Error(`could not send the probe NOTIFY: ${messageOf(error)}`, { cause: error });
    }
    // The clock starts once the NOTIFY is committed: slow connects do not eat the wait.
    const started = Date.now();
    if (!arrived && !signal?.aborted) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, timeoutMs);
        signal?.addEventListener("abort", () => resolve(), { once: true });
      });
    }
    const elapsed = Date.now() - started;
    // A listener that lost its connection meanwhile (terminated, server restart) says nothing
    // about LISTEN: throw, so the caller reconnects and probes again rather than giving up on it.
    if (!arrived) {
      await listener.query("SELECT 1").catch((error: unknown) => {
        throw new Error(`the probe's connection failed: ${messageOf(error)}`, { cause: error });
      });
    }
    return arrived
      ? { works: true, detail: `a NOTIFY from another connection arrived in ${elapsed} ms` }
      : {
          works: false,
          detail:
            `a NOTIFY from another connection did not arrive within ${timeoutMs} ms: LISTEN does not ` +
            "work on this connection (a pooler in transaction mode, such as PgBouncer with " +
            "pool_mode=transaction, hands each statement to any server connection)",
        };
  } finally {
    clearTimeout(timer);
    listener.removeListener("notification", onNotification);
    await listener.query(`UNLISTEN ${pg.escapeIdentifier(channel)}`).catch(() => {});
    await notifier.end().catch(() => {});
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
