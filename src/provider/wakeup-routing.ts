/**
 * Which waiting fetch a wake-up should reach. A notification says what arrived (worker items: the
 * tag, session and session owner of each group of inserted rows, migrations/0018); a waiting
 * fetch says what it can take (its tag filter and session owner, or its capability filter). The
 * listener (wakeups.ts) wakes fetches that can take the arrival, and fetches of one *kind* — those
 * that would find the same work — count as one: waking a second of a kind whose first came back
 * empty would only send it to the store for nothing.
 */
import type { DispatcherCapabilityFilter, SessionFetchConfig, TagFilter } from "./types.ts";

/** What a notification says arrived. */
export interface Arrival {
  /** How many items: wake up to that many fetches. */
  count: number;
  /** False when the notification does not say what arrived (then wake one fetch of each kind). */
  described: boolean;
  tag: string | null;
  session: string | null;
  /** The session's owner when the item was inserted (null: unowned, or not known). */
  owner: string | null;
}

/** An arrival the notification does not describe (orchestrator queue, local enqueues, overflow). */
export function undescribedArrival(count = 1): Arrival {
  return { count, described: false, tag: null, session: null, owner: null };
}

/** Read a worker-queue payload (0018); an empty or unreadable one is an undescribed arrival. */
export function parseArrival(payload: string | undefined): Arrival {
  if (!payload) return undescribedArrival();
  try {
    const parsed = JSON.parse(payload) as Record<string, unknown>;
    const count = typeof parsed.n === "number" && parsed.n >= 1 ? Math.floor(parsed.n) : 1;
    if (!("tag" in parsed)) return undescribedArrival(count);
    const text = (value: unknown) => (typeof value === "string" ? value : null);
    return {
      count,
      described: true,
      tag: text(parsed.tag),
      session: text(parsed.session),
      owner: text(parsed.owner),
    };
  } catch {
    return undescribedArrival();
  }
}

/** What a waiting fetch can take. */
export interface WaiterProfile {
  /** Whether this fetch could take an item of `arrival` (undescribed arrivals: always). */
  accepts(arrival: Arrival): boolean;
  /** Fetches with equal kinds would find the same items of `arrival`. */
  kind(arrival: Arrival): string;
}

/** Any fetch of a queue whose notifications are not described and whose waiters are all alike. */
export const ANY_FETCH: WaiterProfile = { accepts: () => true, kind: () => "" };

/** An orchestration fetch: its capability filter decides which turns it can take. */
export function orchestrationFetchProfile(filter: DispatcherCapabilityFilter | null): WaiterProfile {
  const kind = filter ? JSON.stringify(filter.supportedDuroxideVersions[0] ?? null) : "any";
  return { accepts: () => true, kind: () => kind };
}

function tagPasses(filter: TagFilter, tag: string | null): boolean {
  switch (filter.kind) {
    case "defaultOnly":
      return tag === null;
    case "tags":
      return tag !== null && filter.tags.has(tag);
    case "defaultAnd":
      return tag === null || filter.tags.has(tag);
    case "any":
      return true;
    case "none":
      return false;
  }
}

/** A worker fetch: its tag filter and session owner decide which items it can take. */
export function workFetchProfile(session: SessionFetchConfig | null, filter: TagFilter): WaiterProfile {
  const tags = "tags" in filter ? [...filter.tags].sort() : [];
  const filterKind = JSON.stringify([filter.kind, tags]);
  return {
    accepts(arrival) {
      if (!arrival.described) return true;
      if (!tagPasses(filter, arrival.tag)) return false;
      if (arrival.session === null) return true;
      // A session item goes to its owner's fetch; an unowned session's to any fetch that claims sessions.
      return session !== null && (arrival.owner === null || arrival.owner === session.ownerId);
    },
    kind(arrival) {
      // Slots differ by owner only for session items: for the rest, any slot of a filter will do.
      return arrival.described && arrival.session !== null
        ? `${filterKind}|${session?.ownerId ?? ""}`
        : filterKind;
    },
  };
}
