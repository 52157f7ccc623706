/**
 * Waiting for an external event (`waitForEvent`, docs/replay-rules.md §13.3): `ExternalSubscribed` records
 * the wait; every `ExternalRaised` message becomes an `ExternalEvent`, delivered only to a wait
 * already subscribed at that point of history (the first live one for its name), else kept and
 * never delivered. A dropped wait owes an `ExternalSubscribedCancelled` breadcrumb.
 */
import type { Event } from "../../provider/types.ts";
import type { LeafTask } from "../tasks.ts";
import type { MessageConverter, ScheduleCommand } from "./command.ts";
import type { ReplayState } from "./replay-state.ts";

export interface WaitAction {
  kind: "wait";
  name: string;
}

/** The waits bound so far, per event name, in bind order. */
export class WaitBook {
  private readonly byName = new Map<string, LeafTask[]>();

  add(name: string, leaf: LeafTask): void {
    const list = this.byName.get(name);
    if (list) list.push(leaf);
    else this.byName.set(name, [leaf]);
  }

  /** The first bound wait for `name` that is neither cancelled nor answered. */
  firstLive(name: string): LeafTask | undefined {
    return (this.byName.get(name) ?? []).find(isLive);
  }
}

function isLive(leaf: LeafTask): boolean {
  return !leaf.isCancelled && !leaf.outcome;
}

/** Legacy only: a wait for `name` the code has emitted but history has not bound yet. */
function emittedWait(name: string, state: ReplayState): LeafTask | undefined {
  for (const leaf of state.unboundLeaves()) {
    if (leaf.action.kind === "wait" && leaf.action.name === name && isLive(leaf)) return leaf;
  }
  return undefined;
}

function deliver(event: Event, state: ReplayState): boolean {
  if (event.type !== "ExternalEvent") return false;
  const waiter =
    state.waits.firstLive(event.name) ??
    (state.policy === "legacy" ? emittedWait(event.name, state) : undefined);
  if (!waiter) return false; // raised before anyone waited: recorded, never delivered
  waiter.settle({ ok: true, value: waiter.decode(event.data) });
  return true;
}

/** A subscription's cancellation breadcrumb replayed: the subscription it names takes no more. */
export function applyBreadcrumb(event: Event, state: ReplayState): boolean {
  const leaf = event.source_event_id === null ? undefined : state.bound.get(event.source_event_id);
  if (leaf) state.cancelSubscription(leaf);
  return false;
}

export const externalEvent: ScheduleCommand<WaitAction> = {
  family: "schedule",
  kind: "wait",
  recordedAs: "ExternalSubscribed",
  matches: (action, event) => event.type === "ExternalSubscribed" && action.name === event.name,
  describe: (action) => `ExternalSubscribed(${action.name})`,
  describeEvent: (event) =>
    event.type === "ExternalSubscribed" ? `${event.type}(${event.name})#${event.event_id}` : "",
  schedule: (action) => ({ type: "ExternalSubscribed", name: action.name }),
  bind(leaf, state) {
    if (leaf.isDropped && state.policy === "fixed") leaf.cancel();
    state.waits.add((leaf.action as WaitAction).name, leaf);
    return false;
  },
  reactsTo: { ExternalEvent: deliver, ExternalSubscribedCancelled: applyBreadcrumb },
  cancel: (leaf) => leaf.cancel(),
  cancelDropped(leaf, turn) {
    // A legacy execution's subscription is cancelled when its breadcrumb is replayed, so the
    // breadcrumb is due for every one dropped before it resolved; a fixed one was cancelled at drop.
    const due = turn.policy === "legacy" ? leaf.dropped === "droppedPending" : !leaf.outcome;
    if (due) turn.log.append({ type: "ExternalSubscribedCancelled", reason: "dropped_future" }, leaf.eventId);
  },
};

/** `ExternalRaised` carries no execution id: it always becomes an event of the current execution. */
export const externalRaised: MessageConverter<"ExternalRaised"> = {
  message: "ExternalRaised",
  convert(item, { log }) {
    log.append({ type: "ExternalEvent", name: item.name, data: item.data });
  },
};
