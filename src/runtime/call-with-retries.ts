/**
 * Calling the provider across a lost connection: retry retryable errors with backoff and say how
 * the call ended. A permanent error after a retryable one is "unknown", not "failed": the attempt
 * that lost its connection may have committed, which would explain the refusal (its lock token is
 * gone). Used for acks, where re-running work costs more than waiting, and for reads an ack needs.
 * An ack retries for as long as its lock is held (`retries` as a function), not a fixed count:
 * giving up while the lock still holds throws finished work away for nothing.
 */
import { sleep } from "./abortable.ts";
import { type HeldLock, isRetryable } from "./lock-renewal.ts";

export type CallOutcome<T> =
  | { kind: "ok"; value: T }
  /** Permanent at the first attempt. */
  | { kind: "failed"; error: unknown }
  /** Permanent after a retryable failure: the lost attempt may have committed. */
  | { kind: "unknown"; error: unknown }
  /** Still retryable after every retry (or once `retries` said to stop). */
  | { kind: "exhausted"; error: unknown };

/** Backoff between retries: 25 ms·2^n capped at 2 s (8 retries span about 6 s). */
function retryDelayMs(attempt: number): number {
  return Math.min(25 * 2 ** attempt, 2000);
}

/**
 * `retries`: how many retries, or a predicate asked before each retry with the delay about to be
 * slept (retry while it returns true).
 */
export async function callWithRetries<T>(
  call: () => Promise<T>,
  retries: number | ((nextDelayMs: number) => boolean),
  onError: (error: unknown) => void = () => {},
): Promise<CallOutcome<T>> {
  for (let attempt = 0; ; attempt++) {
    try {
      return { kind: "ok", value: await call() };
    } catch (error) {
      onError(error);
      // Earlier attempts can only have failed retryably: a permanent error returns at once.
      if (!isRetryable(error)) return { kind: attempt === 0 ? "failed" : "unknown", error };
      const delay = retryDelayMs(attempt);
      const again = typeof retries === "number" ? attempt < retries : retries(delay);
      if (!again) return { kind: "exhausted", error };
      await sleep(delay);
    }
  }
}

/**
 * Retry while `lock` will still be held after the next pause, with `marginMs` to spare for the
 * call's own round trip (an attempt that lands after expiry is refused by the store anyway).
 */
export function whileHeld(lock: HeldLock, marginMs: number): (nextDelayMs: number) => boolean {
  return (nextDelayMs) => lock.remainingMs() - nextDelayMs > marginMs;
}
