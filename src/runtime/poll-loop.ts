/**
 * The skeleton both dispatchers run in each of their slots: wait until this runtime's clock agrees
 * with the database's, fetch one item (a failed fetch backs off and logs one warning per streak),
 * wait for a wake-up when the queue was empty, and otherwise process the item. An item locked
 * after shutdown began is handed back without counting the attempt, and a crash while processing
 * never ends the slot (the item's lock expires and it is fetched again). What is fetched and how it
 * is processed is the dispatcher's own business (PollSlot).
 *
 * Waking is the provider's (Provider.wakeups, docs/architecture.md "Wake-ups"): each slot fetches
 * through its own WorkWaiter without waiting inside the provider, then waits on the waiter for up
 * to the long-poll timeout, ended early by work it can take or by the stop signal. A provider
 * without wake-ups is polled: each fetch may long-poll inside the provider (its pollTimeoutMs), and
 * an empty one is followed by the rest of `minPollIntervalMs`.
 */

import type { Provider, WorkFetch, WorkWaiter } from "../provider/types.ts";
import { sleep, unlessAborted } from "./abortable.ts";
import type { ClockGuard } from "./clock-guard.ts";
import { FailureStreak } from "./failure-streak.ts";
import { fetchErrorBackoffMs, isRetryable } from "./lock-renewal.ts";
import type { RuntimeMetrics } from "./metrics.ts";
import type { ResolvedOptions } from "./options.ts";

/** Backoff after a fetch failed with an error that retrying will not cure (a bug, a bad argument). */
const NON_RETRYABLE_FETCH_DELAY_MS = 100;

/** What the loop needs of a dispatcher's dependencies (both dispatchers' deps are one). */
export interface PollLoopDeps {
  /**
   * `longPollTimeoutMs`: the longest an idle slot waits before fetching again. `minPollIntervalMs`:
   * the least time between two empty fetches, unless a wake-up ends the wait sooner.
   */
  options: Pick<ResolvedOptions, "logger" | "minPollIntervalMs" | "longPollTimeoutMs">;
  /** Its `wakeups`, when it has them, wake idle slots; otherwise the slots poll. */
  provider: Pick<Provider, "wakeups">;
  metrics: RuntimeMetrics;
  /** No leases are taken while this runtime's clock disagrees with the database's. */
  clockGuard: ClockGuard;
  /** Aborted when the runtime stops: the slots exit (an idle one at once). */
  stopSignal: AbortSignal;
}

/** One dispatcher slot's part of the loop. */
export interface PollSlot<T, F extends WorkFetch = WorkFetch> {
  /** The provider call, as named in failure logs ("fetchWorkItem"). */
  call: string;
  /** What the next fetch asks for (its queue and filters): wake-ups go to a fetch that can use them. */
  next(): F;
  /** Fetch one item as `what` says, waiting inside the provider up to `pollTimeoutMs`; null when none. */
  fetch(what: F, pollTimeoutMs: number): Promise<T | null>;
  /** Give an item back without counting the attempt (it was locked after shutdown began). */
  handBack(item: T): Promise<void>;
  /** Counts one fetched item in the metrics. */
  counted(): void;
  /**
   * Process one item. When finishing it also locked the next one (an ack that fetches the next
   * item in the same round trip), return that item: the loop processes it without another fetch.
   * Such a fetch goes through `fetchNext`; when it finds nothing the loop waits at once, as after
   * an empty fetch of its own, instead of fetching again.
   */
  process(item: T, fetchNext: FetchNext<T, F>): Promise<T | null | undefined>;
  /** The log line for a crash of process(item). */
  crashed(item: T, error: unknown): string;
}

/**
 * Run `fetch`, a fetch of what `what` describes made while processing an item, through the slot's
 * waiter (like the loop's own fetches: work arriving while it runs ends the following wait).
 */
export type FetchNext<T, F extends WorkFetch = WorkFetch> = (
  fetch: (what: F) => Promise<T | null>,
) => Promise<T | null>;

/** The slots of one dispatcher: `count` loops started together, drained together. */
export class PollLoops {
  private readonly loops: Promise<void>[] = [];

  constructor(private readonly deps: PollLoopDeps) {}

  start<T, F extends WorkFetch>(count: number, slot: (index: number) => PollSlot<T, F>): void {
    for (let index = 0; index < count; index++) this.loops.push(runPollLoop(this.deps, slot(index)));
  }

  /** Resolves when every slot has exited (after the stop signal). */
  async drained(): Promise<void> {
    await Promise.all(this.loops);
  }
}

export async function runPollLoop<T, F extends WorkFetch>(
  deps: PollLoopDeps,
  slot: PollSlot<T, F>,
): Promise<void> {
  const { stopSignal, metrics } = deps;
  const { logger, minPollIntervalMs, longPollTimeoutMs } = deps.options;
  const handBack = (item: T) => slot.handBack(item).catch(() => {});
  const waiter = deps.provider.wakeups?.workWaiter() ?? null;
  const failures = new FailureStreak(slot.call, logger);
  let errors = 0;
  while (!stopSignal.aborted) {
    // A clock that disagrees with the database's would judge other runtimes' locks wrongly.
    if (!(await deps.clockGuard.waitUntilAgreed(stopSignal))) break;
    const what = slot.next();
    const began = performance.now();
    let fetched: T | null;
    try {
      const outcome = await fetchOne(slot, what, waiter, deps, handBack);
      if (!outcome) break;
      fetched = outcome.value;
      errors = 0;
      failures.succeeded();
    } catch (error) {
      metrics.providerErrors++;
      if (stopSignal.aborted) break;
      const delay = isRetryable(error) ? fetchErrorBackoffMs(errors++) : NON_RETRYABLE_FETCH_DELAY_MS;
      failures.failed(error, delay);
      await sleep(delay, stopSignal);
      continue;
    }
    if (fetched === null) {
      await idle(began);
      continue;
    }
    const emptyFetchBegan = await processChain(slot, fetched, waiter, stopSignal, handBack, logger);
    if (emptyFetchBegan !== null) await idle(emptyFetchBegan);
  }

  /** After an empty fetch that began at `began`: wait for a wake-up, or poll. */
  async function idle(began: number): Promise<void> {
    const pollGap = minPollIntervalMs - (performance.now() - began);
    if (waiter) await waiter.wait(Math.max(longPollTimeoutMs, pollGap), stopSignal);
    else await sleep(pollGap, stopSignal);
  }
}

/**
 * Process an item, then every next item its processing locked on the way (see PollSlot.process).
 * Returns when the chain's last fetch (through fetchNext) began if it found nothing, else null.
 */
async function processChain<T, F extends WorkFetch>(
  slot: PollSlot<T, F>,
  first: T,
  waiter: WorkWaiter | null,
  stopSignal: AbortSignal,
  handBack: (item: T) => Promise<void>,
  logger: PollLoopDeps["options"]["logger"],
): Promise<number | null> {
  let emptyFetchBegan: number | null = null;
  const fetchNext: FetchNext<T, F> = async (fetch) => {
    const what = slot.next();
    const began = performance.now();
    const found = waiter ? await waiter.fetch(what, () => fetch(what)) : await fetch(what);
    if (found === null) emptyFetchBegan = began;
    return found;
  };
  let item: T | null | undefined = first;
  while (item) {
    slot.counted();
    if (stopSignal.aborted) {
      await handBack(item);
      return null;
    }
    const current: T = item;
    emptyFetchBegan = null;
    try {
      item = await slot.process(current, fetchNext);
    } catch (error) {
      logger.error(slot.crashed(current, error));
      item = null;
    }
  }
  return emptyFetchBegan;
}

/**
 * One fetch: through the slot's waiter at once, or (no wake-ups) long-polling inside the provider.
 * Null when the stop signal ended a long poll: whatever it locks later is handed back.
 */
async function fetchOne<T, F extends WorkFetch>(
  slot: PollSlot<T, F>,
  what: F,
  waiter: WorkWaiter | null,
  deps: PollLoopDeps,
  handBack: (item: T) => Promise<void>,
): Promise<{ value: T | null } | null> {
  if (waiter) return { value: await waiter.fetch(what, () => slot.fetch(what, 0)) };
  return await unlessAborted(slot.fetch(what, deps.options.longPollTimeoutMs), deps.stopSignal, (late) => {
    if (late) void handBack(late);
  });
}
