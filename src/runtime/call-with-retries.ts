/**
 * Calling the provider across a lost connection: retry retryable errors with backoff and say how
 * the call ended. A permanent error after a retryable one is "unknown", not "failed": the attempt
 * that lost its connection may have committed, which would explain the refusal (its lock token is
 * gone). Used for acks, where re-running work costs more than waiting, and for reads an ack needs.
 */
import { isRetryable } from "./lock-renewal.ts";
import { sleep } from "./notifier.ts";

export type CallOutcome<T> =
  | { kind: "ok"; value: T }
  /** Permanent at the first attempt. */
  | { kind: "failed"; error: unknown }
  /** Permanent after a retryable failure: the lost attempt may have committed. */
  | { kind: "unknown"; error: unknown }
  /** Still retryable after every retry. */
  | { kind: "exhausted"; error: unknown };

/** Backoff between retries: 25 ms·2^n capped at 2 s (8 retries span about 6 s). */
function retryDelayMs(attempt: number): number {
  return Math.min(25 * 2 ** attempt, 2000);
}

export async function callWithRetries<T>(
  call: () => Promise<T>,
  retries: number,
  onError: (error: unknown) => void = () => {},
): Promise<CallOutcome<T>> {
  for (let attempt = 0; ; attempt++) {
    try {
      return { kind: "ok", value: await call() };
    } catch (error) {
      onError(error);
      // Earlier attempts can only have failed retryably: a permanent error returns at once.
      if (!isRetryable(error)) return { kind: attempt === 0 ? "failed" : "unknown", error };
      if (attempt >= retries) return { kind: "exhausted", error };
      await sleep(retryDelayMs(attempt));
    }
  }
}
