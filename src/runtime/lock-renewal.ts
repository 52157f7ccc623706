/**
 * Keeping a lock alive while work runs: renew at a fixed interval until stopped, and report the
 * first renewal that fails for good (the lock is gone: the work was cancelled or taken over).
 * A retryable failure (a connection blip) is retried at the next tick instead.
 */
import { ProviderError } from "../provider/errors.ts";

export interface Renewal {
  stop(): void;
}

export function startRenewal(
  intervalMs: number,
  renew: () => Promise<void>,
  onLost: (error: unknown) => void,
): Renewal {
  let stopped = false;
  let inFlight = false;
  const timer = setInterval(() => {
    if (stopped || inFlight) return;
    inFlight = true;
    renew()
      .catch((error: unknown) => {
        if (stopped) return;
        if (error instanceof ProviderError && error.retryable) return;
        stopped = true;
        clearInterval(timer);
        onLost(error);
      })
      .finally(() => {
        inFlight = false;
      });
  }, intervalMs);
  timer.unref?.();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
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
