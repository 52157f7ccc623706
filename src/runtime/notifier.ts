/**
 * In-process wake-ups. A runtime or client that enqueues work through a provider object tells
 * every dispatcher and waiter using the same provider object in this process, so an idle
 * dispatcher does not sleep out its poll interval when the work came from next door. Work from
 * other processes is found by polling (or the provider's long poll) as usual.
 *
 * To never miss a wake-up, arm a waiter *before* looking at the store, then wait on it only if
 * the look found nothing.
 */
import type { Provider } from "../provider/types.ts";

export type Channel = "orchestrator" | "worker" | `instance:${string}`;

export interface Waiter {
  /** Resolves on a notification of the channel, after `ms`, or when `signal` aborts. */
  wait(ms: number, signal?: AbortSignal): Promise<void>;
  /** Disarm (a waiter that is never waited on must be disarmed). */
  cancel(): void;
}

export class Notifier {
  private readonly waiters = new Map<Channel, Set<() => void>>();

  arm(channel: Channel): Waiter {
    let fired = false;
    let wake: (() => void) | null = null;
    const callback = () => {
      fired = true;
      wake?.();
    };
    let set = this.waiters.get(channel);
    if (!set) {
      set = new Set();
      this.waiters.set(channel, set);
    }
    set.add(callback);
    const cancel = () => {
      const current = this.waiters.get(channel);
      current?.delete(callback);
      if (current?.size === 0) this.waiters.delete(channel);
    };
    return {
      wait: (ms, signal) =>
        new Promise<void>((resolve) => {
          if (fired || ms <= 0 || signal?.aborted) {
            cancel();
            resolve();
            return;
          }
          const done = () => {
            clearTimeout(timer);
            signal?.removeEventListener("abort", done);
            cancel();
            resolve();
          };
          const timer = setTimeout(done, ms);
          wake = done;
          signal?.addEventListener("abort", done, { once: true });
        }),
      cancel,
    };
  }

  notify(channel: Channel): void {
    const set = this.waiters.get(channel);
    if (!set) return;
    for (const callback of [...set]) callback();
  }
}

const notifiers = new WeakMap<Provider, Notifier>();

/** The notifier shared by everything in this process that uses `provider`. */
export function notifierFor(provider: Provider): Notifier {
  let notifier = notifiers.get(provider);
  if (!notifier) {
    notifier = new Notifier();
    notifiers.set(provider, notifier);
  }
  return notifier;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Await `promise` unless `signal` aborts first (then null). Used so a shutdown does not wait for a
 * fetch that is long-polling inside the provider; whatever that fetch returns later is handed to
 * `late` (to give back an item it locked).
 */
export function unlessAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal,
  late: (value: T) => void,
): Promise<{ value: T } | null> {
  if (signal.aborted) {
    promise.then(late, () => {});
    return Promise.resolve(null);
  }
  return new Promise((resolve, reject) => {
    let settled = false;
    const onAbort = () => {
      if (settled) return;
      settled = true;
      promise.then(late, () => {});
      resolve(null);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        resolve({ value });
      },
      (error: unknown) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
