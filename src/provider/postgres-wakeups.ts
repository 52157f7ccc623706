/**
 * PostgresProvider's wake-ups (Provider.wakeups; docs/architecture.md, "Wake-ups"): the one way an
 * idle dispatcher slot or a waiting client learns that something changed.
 *
 *   - work: a slot's empty fetch is followed by a wait on the LISTEN listener (wakeups.ts), which
 *     also hears work enqueued through this provider object while notifications do not arrive,
 *     bounded by the queue's next delayed row or lock expiry (next_wakeup_at) and by
 *     MAX_IDLE_WAIT_MS. A fetch that already learned that time (an empty orchestrator fetch
 *     returns it: fetch_orchestration_item_or_wakeup) tells it here, and the wait that follows
 *     needs no query. The provider's own long poll (a fetch's pollTimeoutMs) is the same loop.
 *   - instances: in-process watches, told by this provider's acks (instance-watches.ts).
 */
import { sleep } from "../runtime/abortable.ts";
import { InstanceWatches } from "./instance-watches.ts";
import type { InstanceWatch, ProviderWakeups, WorkFetch, WorkWaiter } from "./types.ts";
import { orchestrationFetchProfile, type WaiterProfile, workFetchProfile } from "./wakeup-routing.ts";
import { POLLING_FALLBACK_MS, type WakeToken, type WakeupListener, type WakeupQueue } from "./wakeups.ts";

/** Even with no notification, an idle fetching loop re-checks the store this often. */
export const MAX_IDLE_WAIT_MS = 5_000;

/** When next_wakeup_at cannot be read, wait at most this long (the next fetch reports the failure). */
const UNKNOWN_NEXT_WAKEUP_MS = 250;

/** Milliseconds until the queue's next delayed row or lock expiry (+Infinity: none pending). */
export type UntilNextWakeup = (queue: WakeupQueue) => Promise<number>;

/**
 * The next wake-up of each queue as fetches learned it, in performance.now() terms: `learnedAt`
 * is when the call that read it was sent, `dueAt` when it falls due (+Infinity: nothing pending).
 * It describes the whole queue, whatever the filters of the fetch that read it, so any waiter
 * whose own fetch began before it was read may use it instead of a query.
 */
export class LearnedWakeups {
  private readonly byQueue = new Map<WakeupQueue, { learnedAt: number; dueAt: number }>();

  /** A call sent at `sentAt` (performance.now()) read that `queue` wakes up in `untilMs`. */
  learned(queue: WakeupQueue, sentAt: number, untilMs: number): void {
    const known = this.byQueue.get(queue);
    if (known && known.learnedAt > sentAt) return; // keep the fresher one
    this.byQueue.set(queue, { learnedAt: sentAt, dueAt: sentAt + untilMs });
  }

  /** Milliseconds until `queue`'s next wake-up, if it was read since `since`; undefined otherwise. */
  untilNext(queue: WakeupQueue, since: number): number | undefined {
    const known = this.byQueue.get(queue);
    if (!known || known.learnedAt < since) return undefined;
    return known.dueAt - performance.now();
  }
}

export class PostgresWakeups implements ProviderWakeups {
  private readonly instances = new InstanceWatches();
  /** Next wake-ups that fetches returned with an empty result (see LearnedWakeups). */
  readonly learned = new LearnedWakeups();

  constructor(
    private readonly listener: WakeupListener,
    private readonly untilNextWakeup: UntilNextWakeup,
  ) {}

  workWaiter(): ListenerWorkWaiter {
    return new ListenerWorkWaiter(this.listener, this.untilNextWakeup, this.learned);
  }

  watchInstance(instance: string): InstanceWatch {
    return this.instances.watch(instance);
  }

  /** An ack through this provider changed `instance`: wake the clients waiting on it. */
  instanceChanged(instance: string): void {
    this.instances.changed(instance);
  }
}

/** The listener's queue and routing profile of a fetch. */
function routeOf(what: WorkFetch): { queue: WakeupQueue; profile: WaiterProfile } {
  return what.queue === "orchestrator"
    ? { queue: "orch", profile: orchestrationFetchProfile(what.filter) }
    : { queue: "work", profile: workFetchProfile(what.session, what.tagFilter) };
}

export class ListenerWorkWaiter implements WorkWaiter {
  private queue: WakeupQueue = "orch";
  private profile: WaiterProfile = orchestrationFetchProfile(null);
  /** The queue's generation before the last fetch: a notification since ends the wait at once. */
  private seen = 0;
  /** The wake-up that ended the last wait, until the fetch after it shows whether it was used. */
  private wokenBy: WakeToken | null = null;
  /** When the last fetch began (performance.now()): a next wake-up read since is fresh enough. */
  private fetchBegan = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly listener: WakeupListener,
    private readonly untilNextWakeup: UntilNextWakeup,
    private readonly learned: LearnedWakeups = new LearnedWakeups(),
  ) {}

  async fetch<T>(what: WorkFetch, fetch: () => Promise<T | null>): Promise<T | null> {
    ({ queue: this.queue, profile: this.profile } = routeOf(what));
    this.seen = this.listener.generation(this.queue);
    this.fetchBegan = performance.now();
    const wokenBy = this.wokenBy;
    this.wokenBy = null;
    let found: T | null = null;
    try {
      found = await fetch();
      return found;
    } finally {
      // Empty (or failed): the wake-up was not used here; another kind of fetch may use it.
      if (found === null) this.listener.passOn(wokenBy);
    }
  }

  async wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.listener.isClosed) {
      // The provider was closed under a running loop: poll (its fetches will tell) rather than spin.
      await sleep(Math.min(ms, POLLING_FALLBACK_MS), signal);
      return;
    }
    let untilNext = this.learned.untilNext(this.queue, this.fetchBegan);
    if (untilNext === undefined) {
      try {
        untilNext = await this.untilNextWakeup(this.queue);
      } catch {
        untilNext = UNKNOWN_NEXT_WAKEUP_MS;
      }
    }
    const token = await this.listener.waitForChange(
      this.queue,
      this.seen,
      Math.min(ms, untilNext, MAX_IDLE_WAIT_MS),
      this.profile,
      signal,
    );
    // No fetch follows a wait the caller gave up on: pass the wake-up on now.
    if (signal?.aborted) this.listener.passOn(token);
    else this.wokenBy = token;
  }

  /** Pass on a wake-up that no fetch will follow (the loop ends). */
  release(): void {
    this.listener.passOn(this.wokenBy);
    this.wokenBy = null;
  }
}
