/**
 * PostgresProvider's wake-ups (Provider.wakeups; docs/architecture.md, "Wake-ups"): the one way an
 * idle dispatcher slot or a waiting client learns that something changed.
 *
 *   - work: a slot's empty fetch is followed by a wait on the LISTEN listener (wakeups.ts), which
 *     also hears work enqueued through this provider object while notifications do not arrive,
 *     bounded by the queue's next delayed row or lock expiry (next_wakeup_at) and by
 *     MAX_IDLE_WAIT_MS. The provider's own long poll (a fetch's pollTimeoutMs) is the same loop.
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

export class PostgresWakeups implements ProviderWakeups {
  private readonly instances = new InstanceWatches();

  constructor(
    private readonly listener: WakeupListener,
    private readonly untilNextWakeup: UntilNextWakeup,
  ) {}

  workWaiter(): ListenerWorkWaiter {
    return new ListenerWorkWaiter(this.listener, this.untilNextWakeup);
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

  constructor(
    private readonly listener: WakeupListener,
    private readonly untilNextWakeup: UntilNextWakeup,
  ) {}

  async fetch<T>(what: WorkFetch, fetch: () => Promise<T | null>): Promise<T | null> {
    ({ queue: this.queue, profile: this.profile } = routeOf(what));
    this.seen = this.listener.generation(this.queue);
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
    let untilNext: number;
    try {
      untilNext = await this.untilNextWakeup(this.queue);
    } catch {
      untilNext = UNKNOWN_NEXT_WAKEUP_MS;
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
