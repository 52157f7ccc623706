/**
 * The skeleton both dispatchers run in each of their slots: wait until this runtime's clock agrees
 * with the database's, fetch one item (a failed fetch backs off and logs one warning per streak),
 * wait for a wake-up or the minimum poll interval when the queue was empty, and otherwise process
 * the item. An item locked after shutdown began is handed back without counting the attempt, and a
 * crash while processing never ends the slot (the item's lock expires and it is fetched again).
 * What is fetched and how it is processed is the dispatcher's own business (PollSlot).
 */
import type { ClockGuard } from "./clock-guard.ts";
import { FailureStreak } from "./failure-streak.ts";
import { fetchErrorBackoffMs, isRetryable } from "./lock-renewal.ts";
import type { RuntimeMetrics } from "./metrics.ts";
import { type Channel, type Notifier, sleep, unlessAborted } from "./notifier.ts";
import type { ResolvedOptions } from "./options.ts";

/** Backoff after a fetch failed with an error that retrying will not cure (a bug, a bad argument). */
const NON_RETRYABLE_FETCH_DELAY_MS = 100;

/** What the loop needs of a dispatcher's dependencies (both dispatchers' deps are one). */
export interface PollLoopDeps {
  /** `minPollIntervalMs`: an empty fetch is followed by at least this long before the next (unless woken). */
  options: Pick<ResolvedOptions, "logger" | "minPollIntervalMs">;
  notifier: Notifier;
  metrics: RuntimeMetrics;
  /** No leases are taken while this runtime's clock disagrees with the database's. */
  clockGuard: ClockGuard;
  /** Aborted when the runtime stops: the slots exit (an idle one at once). */
  stopSignal: AbortSignal;
}

/** One dispatcher slot's part of the loop. */
export interface PollSlot<T> {
  /** The provider call, as named in failure logs ("fetchWorkItem"). */
  call: string;
  /** The notifier channel whose wake-ups end an idle wait. */
  channel: Channel;
  /** Fetch one item, or null when there is none. */
  fetch(): Promise<T | null>;
  /** Give an item back without counting the attempt (it was locked after shutdown began). */
  handBack(item: T): Promise<void>;
  /** Counts one fetched item in the metrics. */
  counted(): void;
  process(item: T): Promise<void>;
  /** The log line for a crash of process(item). */
  crashed(item: T, error: unknown): string;
}

/** The slots of one dispatcher: `count` loops started together, drained together. */
export class PollLoops {
  private readonly loops: Promise<void>[] = [];

  constructor(private readonly deps: PollLoopDeps) {}

  start<T>(count: number, slot: (index: number) => PollSlot<T>): void {
    for (let index = 0; index < count; index++) this.loops.push(runPollLoop(this.deps, slot(index)));
  }

  /** Resolves when every slot has exited (after the stop signal). */
  async drained(): Promise<void> {
    await Promise.all(this.loops);
  }
}

export async function runPollLoop<T>(deps: PollLoopDeps, slot: PollSlot<T>): Promise<void> {
  const { notifier, stopSignal, metrics } = deps;
  const { logger, minPollIntervalMs } = deps.options;
  const handBack = (item: T) => slot.handBack(item).catch(() => {});
  const failures = new FailureStreak(slot.call, logger);
  let errors = 0;
  while (!stopSignal.aborted) {
    // A clock that disagrees with the database's would judge other runtimes' locks wrongly.
    if (!(await deps.clockGuard.waitUntilAgreed(stopSignal))) break;
    const waiter = notifier.arm(slot.channel);
    const began = performance.now();
    let fetched: T | null;
    try {
      // A fetch long-polling inside the provider must not hold up a shutdown; whatever it locks
      // after the stop signal is handed back.
      const outcome = await unlessAborted(slot.fetch(), stopSignal, (late) => {
        if (late) void handBack(late);
      });
      if (!outcome) break;
      fetched = outcome.value;
      errors = 0;
      failures.succeeded();
    } catch (error) {
      waiter.cancel();
      metrics.providerErrors++;
      if (stopSignal.aborted) break;
      const delay = isRetryable(error) ? fetchErrorBackoffMs(errors++) : NON_RETRYABLE_FETCH_DELAY_MS;
      failures.failed(error, delay);
      await sleep(delay, stopSignal);
      continue;
    }
    if (fetched === null) {
      await waiter.wait(minPollIntervalMs - (performance.now() - began), stopSignal);
      continue;
    }
    waiter.cancel();
    slot.counted();
    if (stopSignal.aborted) {
      await handBack(fetched);
      break;
    }
    try {
      await slot.process(fetched);
    } catch (error) {
      logger.error(slot.crashed(fetched, error));
    }
  }
}
