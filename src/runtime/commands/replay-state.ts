/**
 * The per-turn bookkeeping the command kinds share while the replay engine walks history: which
 * leaf each schedule event is bound to, which schedules still wait for a completion, and the
 * subscription books of event waits and persistent queues.
 */
import type { ReplayPolicy } from "../semver.ts";
import type { LeafTask } from "../tasks.ts";
import { WaitBook } from "./external-event.ts";
import { QueueBook } from "./persistent-queue.ts";
import { commandFor } from "./registry.ts";

export class ReplayState {
  /** Bound leaves by schedule event id. */
  readonly bound = new Map<number, LeafTask>();
  /** Schedules still waiting for a completion. */
  readonly open = new Map<number, LeafTask>();
  readonly waits = new WaitBook();
  readonly queues: QueueBook;

  constructor(
    /**
     * The rules for dropped subscriptions, from the execution's stamp (semver.ts, docs/replay-rules.md §9).
     * "fixed": a dropped wait or dequeue leaves matching the moment it is dropped. "legacy"
     * (stamped below 0.1.31): it keeps its place until its cancellation breadcrumb is applied,
     * and a raised event may reach a wait the code emitted but history has not bound yet.
     */
    readonly policy: ReplayPolicy,
    /** Leaves the code emitted that history has not bound yet, in emission order. */
    readonly unboundLeaves: () => Iterable<LeafTask>,
  ) {
    this.queues = new QueueBook(policy);
  }

  /** Bumped whenever a queue hand-out changes outside a poll's own path, to re-poll. */
  get changes(): number {
    return this.queues.changes;
  }

  /** A subscription stops taking arrivals; other kinds have nothing to cancel. */
  cancelSubscription(leaf: LeafTask): void {
    if (leaf.isCancelled) return;
    commandFor(leaf.action).cancel?.(leaf, this);
  }
}
