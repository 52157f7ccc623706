/**
 * Activity retry, built from ordinary durable operations: each attempt is an activity (raced
 * against a timer when it has a per-attempt timeout), each backoff a durable timer, and a total
 * budget is a timer raced against the whole loop. History holds nothing retry-specific, so a retry
 * replays like any other code.
 */
import { TaskFailedError } from "./errors.ts";
import { type ActivityTask, type DurableTask, type LeafTask, type RaceResult, RaceTask } from "./tasks.ts";

export type Backoff =
  | { kind: "none" }
  | { kind: "fixed"; delayMs: number }
  | { kind: "linear"; baseMs: number; maxMs: number }
  | { kind: "exponential"; baseMs: number; multiplier: number; maxMs: number };

export interface RetryPolicy {
  /** Attempts in total, ≥ 1. Default 3. */
  maxAttempts?: number;
  /**
   * Delay between attempts. Names map like duroxide-node: "exponential" = 100 ms × 2 capped at 30 s
   * (the default), "fixed" = 1 s, "linear" = 100 ms × k capped at 30 s, "none" = retry at once.
   */
  backoff?: "exponential" | "fixed" | "linear" | "none" | Backoff;
  /** Per-attempt timeout. A timed-out attempt is not retried: the call fails with "timeout: …". */
  timeoutMs?: number;
  /**
   * Budget for all attempts and backoffs together. When it runs out the call fails with
   * "timeout: …", whatever attempt is in flight (that attempt is cancelled).
   */
  totalTimeoutMs?: number;
}

const DEFAULT_BACKOFF: Backoff = { kind: "exponential", baseMs: 100, multiplier: 2, maxMs: 30_000 };

export function resolveBackoff(backoff: RetryPolicy["backoff"]): Backoff {
  switch (backoff) {
    case undefined:
    case "exponential":
      return DEFAULT_BACKOFF;
    case "fixed":
      return { kind: "fixed", delayMs: 1000 };
    case "linear":
      return { kind: "linear", baseMs: 100, maxMs: 30_000 };
    case "none":
      return { kind: "none" };
    default:
      return backoff;
  }
}

/** Delay after the k-th failure (k ≥ 1). */
export function backoffDelay(backoff: Backoff, k: number): number {
  switch (backoff.kind) {
    case "none":
      return 0;
    case "fixed":
      return backoff.delayMs;
    case "linear":
      return Math.min(backoff.baseMs * k, backoff.maxMs);
    case "exponential":
      return Math.min(backoff.baseMs * backoff.multiplier ** (k - 1), backoff.maxMs);
  }
}

export function validateRetryPolicy(policy: RetryPolicy): void {
  const attempts = policy.maxAttempts ?? 3;
  if (!Number.isInteger(attempts) || attempts < 1)
    throw new RangeError("retry.maxAttempts must be an integer ≥ 1");
  for (const key of ["timeoutMs", "totalTimeoutMs"] as const) {
    const v = policy[key];
    if (v !== undefined && (!Number.isFinite(v) || v <= 0))
      throw new RangeError(`retry.${key} must be a positive number`);
  }
}

export interface RetryPrimitives {
  activity(): ActivityTask;
  timer(delayMs: number): LeafTask;
  warn(message: string): void;
}

/** The retry loop itself; the result of the first successful attempt. */
export function* retryLoop(
  p: RetryPrimitives,
  policy: RetryPolicy,
  name: string,
): Generator<DurableTask, unknown, unknown> {
  const attempts = policy.maxAttempts ?? 3;
  const backoff = resolveBackoff(policy.backoff);
  let lastError: unknown;
  for (let k = 1; k <= attempts; k++) {
    try {
      if (policy.timeoutMs === undefined) return yield p.activity();
      const raced = (yield new RaceTask([p.activity(), p.timer(policy.timeoutMs)])) as RaceResult;
      if (raced.index === 1)
        throw new RetryTimeout(`timeout: activity '${name}' timed out after ${policy.timeoutMs}ms`);
      return raced.value;
    } catch (error) {
      if (error instanceof RetryTimeout) throw error;
      lastError = error;
      if (k < attempts) {
        const delay = backoffDelay(backoff, k);
        p.warn(
          `activity '${name}' attempt ${k}/${attempts} failed: ${(error as Error).message}; retrying in ${delay}ms`,
        );
        if (delay > 0) yield p.timer(delay);
      }
    }
  }
  throw lastError;
}

/** Bounds a retry loop by a total budget (a timer raced against the whole loop). */
export function* withTotalTimeout(
  loop: DurableTask,
  timer: DurableTask,
  totalMs: number,
  name: string,
): Generator<DurableTask, unknown, unknown> {
  const raced = (yield new RaceTask([loop, timer])) as RaceResult;
  if (raced.index === 1)
    throw new RetryTimeout(`timeout: activity '${name}' retries exceeded ${totalMs}ms in total`);
  return raced.value;
}

/** A retry gave up on time; carries Application/ActivityFailed details like any task failure. */
export class RetryTimeout extends TaskFailedError {
  constructor(message: string) {
    super({ Application: { kind: "ActivityFailed", message, retryable: false } });
  }
}
