/**
 * Persistent queues (`dequeueEvent` / `enqueueEvent`, docs/replay-rules.md §13.4):
 * `ExternalSubscribedPersistent` records a dequeue; every `QueueMessage` becomes an `ExternalEventPersistent` arrival, kept FIFO per
 * queue and handed to live dequeues in bind order, whichever came first. Unread arrivals survive
 * continue-as-new (continue-as-new.ts carries them). A dropped dequeue owes an
 * `ExternalSubscribedPersistentCancelled` breadcrumb.
 */
import type { Event } from "../../provider/types.ts";
import type { ReplayPolicy } from "../semver.ts";
import type { LeafTask } from "../tasks.ts";
import type { MessageConverter, ScheduleCommand } from "./command.ts";
import { applyBreadcrumb } from "./external-event.ts";
import type { ReplayState } from "./replay-state.ts";

export interface DequeueAction {
  kind: "dequeue";
  name: string;
}

interface Queue {
  /** `order` is the arrival's event id, to list leftovers across queues in history order. */
  arrivals: { data: string; order: number; takenBy: LeafTask | null }[];
  /** Bound dequeues in bind order. */
  subscribers: LeafTask[];
}

/** The arrivals and bound dequeues of every queue name in a turn. */
export class QueueBook {
  private readonly queues = new Map<string, Queue>();
  /** Bumped whenever a hand-out changes outside a poll's own path, to re-poll. */
  changes = 0;

  constructor(private readonly policy: ReplayPolicy) {}

  arrive(name: string, data: string, order: number): void {
    this.queue(name).arrivals.push({ data, order, takenBy: null });
    this.handOut(name);
  }

  subscribe(name: string, leaf: LeafTask): void {
    this.queue(name).subscribers.push(leaf);
    this.handOut(name);
  }

  /** A dequeue that lost a race takes no message: give it back to the next live dequeue. */
  giveBack(name: string, leaf: LeafTask): void {
    const taken = this.queue(name).arrivals.find((a) => a.takenBy === leaf);
    if (taken) {
      taken.takenBy = null;
      this.handOut(name);
    }
  }

  /**
   * Event ids of the arrivals the code consumed. Fixed policy: exactly the messages the code
   * received — one held by a dequeue the code did not await again is unread, whatever later
   * dequeues read. Legacy: those taken by a subscription that is still live (a dropped one keeps
   * its message until its breadcrumb).
   */
  consumed(): Set<number> {
    const taken = new Set<number>();
    for (const queue of this.queues.values()) {
      for (const a of queue.arrivals) {
        if (!a.takenBy) continue;
        const consumed = this.policy === "fixed" ? a.takenBy.read : !a.takenBy.isCancelled;
        if (consumed) taken.add(a.order);
      }
    }
    return taken;
  }

  /** Give queued messages to live dequeues, earliest subscriber first. */
  private handOut(name: string): void {
    const queue = this.queue(name);
    for (const leaf of queue.subscribers) {
      if (leaf.isCancelled || leaf.outcome) continue;
      const arrival = queue.arrivals.find((a) => !a.takenBy);
      if (!arrival) return;
      arrival.takenBy = leaf;
      leaf.settle({ ok: true, value: leaf.decode(arrival.data) });
      this.changes++;
    }
  }

  private queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = { arrivals: [], subscribers: [] };
      this.queues.set(name, queue);
    }
    return queue;
  }
}

/**
 * Queue messages of this execution to carry over continue-as-new, in arrival order: those the
 * code never consumed (QueueBook.consumed). Arrivals after the point where the code finished were
 * never applied to a queue: they count as unread.
 */
export function unconsumedMessages(events: readonly Event[], state: ReplayState): [string, string][] {
  const taken = state.queues.consumed();
  const unread: [string, string][] = [];
  for (const e of events) {
    if (e.type === "ExternalEventPersistent" && !taken.has(e.event_id)) unread.push([e.name, e.data]);
  }
  return unread;
}

function arrive(event: Event, state: ReplayState): boolean {
  if (event.type !== "ExternalEventPersistent") return false;
  state.queues.arrive(event.name, event.data, event.event_id);
  return true;
}

const queueName = (leaf: LeafTask) => (leaf.action as DequeueAction).name;

export const persistentQueue: ScheduleCommand<DequeueAction> = {
  family: "schedule",
  kind: "dequeue",
  recordedAs: "ExternalSubscribedPersistent",
  matches: (action, event) => event.type === "ExternalSubscribedPersistent" && action.name === event.name,
  describe: (action) => `ExternalSubscribedPersistent(${action.name})`,
  describeEvent: (event) =>
    event.type === "ExternalSubscribedPersistent" ? `${event.type}(${event.name})#${event.event_id}` : "",
  schedule: (action) => ({ type: "ExternalSubscribedPersistent", name: action.name }),
  bind(leaf, state) {
    if (leaf.isDropped && state.policy === "fixed") leaf.cancel();
    state.queues.subscribe(queueName(leaf), leaf);
    return leaf.outcome !== undefined;
  },
  reactsTo: { ExternalEventPersistent: arrive, ExternalSubscribedPersistentCancelled: applyBreadcrumb },
  cancel(leaf, state) {
    leaf.cancel();
    // Legacy: a message a dropped dequeue took before its breadcrumb stays taken (it is lost, or
    // carried over continue-as-new), exactly as the run that recorded the history decided.
    if (state.policy === "fixed") state.queues.giveBack(queueName(leaf), leaf);
  },
  cancelDropped(leaf, turn) {
    const due = turn.policy === "legacy" ? leaf.dropped === "droppedPending" : leaf.isCancelled;
    if (due)
      turn.log.append(
        { type: "ExternalSubscribedPersistentCancelled", reason: "dropped_future" },
        leaf.eventId,
      );
  },
};

/** `QueueMessage` carries no execution id: it always becomes an arrival of the current execution. */
export const queueMessage: MessageConverter<"QueueMessage"> = {
  message: "QueueMessage",
  convert(item, { log }) {
    log.append({ type: "ExternalEventPersistent", name: item.name, data: item.data });
  },
};
