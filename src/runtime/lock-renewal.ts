/**
 * Keeping a lock alive while work runs: renew at a fixed interval until stopped, and report the
 * first renewal that fails for good (the lock is gone: the work was cancelled or taken over).
 * A retryable failure (a connection blip, an outage) is retried soon after, not a whole interval
 * later, so the lock is extended as soon as the database answers again.
 */
import { performance } from "node:perf_hooks";
import { ProviderError } from "../provider/errors.ts";

/** After a retryable renewal failure, try again this soon (or at the interval, if shorter). */
const RENEWAL_RETRY_MS = 500;

export interface Renewal {
  stop(): void;
}

/**
 * What this process knows about a lock it holds: when it expires at the latest, in elapsed
 * (monotonic) time. The store sets locked_until = now + timeout when the call runs, so counting
 * from the moment the call was sent never overestimates the lock; counting from the answer (all a
 * fetch tells us) is late by at most one round trip, which callers leave as a margin.
 */
export class HeldLock {
  private expiresAt: number;

  constructor(
    private readonly timeoutMs: number,
    takenAt: number = performance.now(),
  ) {
    this.expiresAt = takenAt + timeoutMs;
  }

  /** A renewal sent at `sentAt` (performance.now()) succeeded. */
  renewed(sentAt: number): void {
    this.expiresAt = Math.max(this.expiresAt, sentAt + this.timeoutMs);
  }

  remainingMs(): number {
    return this.expiresAt - performance.now();
  }
}

export interface RenewalOptions {
  /** Updated by every successful renewal. */
  lock?: HeldLock;
  /** Checked before each renewal; false skips it (a runtime whose clock disagrees extends nothing). */
  mayRenew?: () => boolean;
}

export function startRenewal(
  intervalMs: number,
  renew: () => Promise<void>,
  onLost: (error: unknown) => void,
  options: RenewalOptions = {},
): Renewal {
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  const schedule = (delayMs: number) => {
    if (stopped) return;
    timer = setTimeout(tick, delayMs);
    timer.unref?.();
  };
  const tick = () => {
    if (stopped) return;
    if (options.mayRenew && !options.mayRenew()) {
      schedule(Math.min(intervalMs, RENEWAL_RETRY_MS));
      return;
    }
    const sentAt = performance.now();
    renew().then(
      () => {
        options.lock?.renewed(sentAt);
        schedule(intervalMs);
      },
      (error: unknown) => {
        if (stopped) return;
        if (error instanceof ProviderError && error.retryable) {
          schedule(Math.min(intervalMs, RENEWAL_RETRY_MS));
          return;
        }
        stopped = true;
        onLost(error);
      },
    );
  };
  schedule(intervalMs);
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

/** Backoff for handlers that are not registered on this node: base·2^(n−1) capped, n = attempt. */
export function unregisteredBackoffMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 6), maxMs);
}

/** Backoff over consecutive retryable fetch errors: 100 ms·2^n capped at 3 s. */
export function fetchErrorBackoffMs(consecutiveErrors: number): number {
  return Math.min(100 * 2 ** Math.min(consecutiveErrors, 10), 3000);
}

export function isRetryable(error: unknown): boolean {
  if (error instanceof ProviderError) return error.retryable;
  return typeof error === "object" && error !== null && (error as { retryable?: unknown }).retryable === true;
}
