/**
 * Setups shared by the routing-flavoured categories: capability_filtering (seeding instances pinned
 * to a duroxide version), sessions and tag_filtering (worker items and fetch shorthands) and kv_store
 * (a KV turn, continue-as-new to execution n, completing an execution, reading the fetch snapshot).
 *
 * Each helper performs exactly the provider calls duroxide's own test helper makes, so the
 * categories translate duroxide's tests step by step.
 */

import type {
  ActivityExecuteItem,
  Event,
  EventOf,
  FetchedOrchestrationItem,
  FetchedWorkItem,
  Provider,
  ProviderFactory,
  SessionFetchConfig,
  TagFilter,
  WorkItem,
} from "pg-durable";
import { expect } from "vitest";
import {
  ack,
  activityExecute,
  completedEvent,
  continueAsNew,
  defaultOnly,
  expectOrchestrationItem,
  externalRaised,
  fetchOrchestration,
  fetchWork,
  HOLD_LOCK_MS,
  kvClearedAllEvent,
  kvClearedEvent,
  kvSetEvent,
  payloadOf,
  poke,
  semver,
  startedEvent,
  startItem,
  testMetadata,
  versionFilter,
} from "./helpers.ts";

// ---------------------------------------------------------------------------------------------
// capability_filtering
// ---------------------------------------------------------------------------------------------

/** The OrchestrationStarted of `executionId` as written by duroxide `duroxideVersion`. */
export function startedWrittenBy(
  instance: string,
  duroxideVersion: string,
  executionId = 1,
): EventOf<"OrchestrationStarted"> {
  return { ...startedEvent(instance, 1, { executionId }), duroxide_version: duroxideVersion };
}

/**
 * The fixture "seed at version v" (docs/validation.md): enqueue a start, fetch until this instance
 * comes up (other instances' turns are kept locked and abandoned, ignoring the attempt,
 * afterwards), then ack an OrchestrationStarted written by v with v as the pinned version and a
 * "ping" for the instance in the same ack, so it is fetchable again at once.
 */
export async function seedAtVersion(provider: Provider, instance: string, version: string): Promise<void> {
  await provider.enqueueForOrchestrator(startItem(instance), null);
  const others: string[] = [];
  let mine: FetchedOrchestrationItem | null = null;
  while (mine === null) {
    const fetched = await expectOrchestrationItem(provider);
    if (fetched.item.instance === instance) mine = fetched;
    else others.push(fetched.lockToken);
  }
  await ack(provider, mine.lockToken, {
    events: [startedWrittenBy(instance, version)],
    orchestratorItems: [externalRaised(instance, "ping")],
    metadata: testMetadata({ pinnedDuroxideVersion: semver(version) }),
  });
  for (const token of others) await provider.abandonOrchestrationItem(token, null, true);
}

/** Seed at `version`, then make every stored history event of the instance undecodable. */
export async function seedAndCorrupt(
  factory: ProviderFactory,
  provider: Provider,
  instance: string,
  version: string,
): Promise<void> {
  await seedAtVersion(provider, instance, version);
  await factory.corruptInstanceHistory(provider, instance);
}

/** fetchOrchestrationItem under the single inclusive range [min, max] (default 30 s lock). */
export function fetchInRange(
  provider: Provider,
  min: string,
  max: string,
  lockTimeoutMs = HOLD_LOCK_MS,
): Promise<FetchedOrchestrationItem | null> {
  return fetchOrchestration(provider, { filter: versionFilter(min, max), lockTimeoutMs });
}

/** Enqueue an ExternalRaised(name) so the instance has work again. */
export function ping(provider: Provider, instance: string, name = "ping"): Promise<void> {
  return provider.enqueueForOrchestrator(externalRaised(instance, name), null);
}

// ---------------------------------------------------------------------------------------------
// sessions, tag_filtering
// ---------------------------------------------------------------------------------------------

/** The work lock duroxide's session and tag tests use unless they say otherwise. */
export const WORK_LOCK_MS = 5_000;

/** A session-bound ActivityExecute named "SessionActivity". */
export function sessionActivity(instance: string, id: number, sessionId: string): WorkItem {
  return activityExecute(instance, id, "SessionActivity", { sessionId });
}

/** An ActivityExecute without session, named "PlainActivity". */
export function plainActivity(instance: string, id: number): WorkItem {
  return activityExecute(instance, id, "PlainActivity");
}

/** An ActivityExecute named "Activity<id>", tagged when `tag` is given. */
export function taggedActivity(instance: string, id: number, tag?: string): WorkItem {
  return activityExecute(instance, id, `Activity${id}`, tag === undefined ? {} : { tag });
}

/** fetchWorkItem with an explicit session (or null) and tag filter; no wait. */
export function fetchWorkAs(
  provider: Provider,
  session: SessionFetchConfig | null,
  lockTimeoutMs = WORK_LOCK_MS,
  tagFilter: TagFilter = defaultOnly(),
): Promise<FetchedWorkItem | null> {
  return fetchWork(provider, { session, lockTimeoutMs, tagFilter });
}

/** fetchWorkItem under `tagFilter` without session; no wait. */
export function fetchTagged(
  provider: Provider,
  tagFilter: TagFilter,
  lockTimeoutMs = WORK_LOCK_MS,
): Promise<FetchedWorkItem | null> {
  return fetchWork(provider, { session: null, lockTimeoutMs, tagFilter });
}

/** The ActivityExecute a fetch returned; fails the test when it returned nothing or another kind. */
export function activityOf(fetched: FetchedWorkItem | null): ActivityExecuteItem {
  expect(fetched, "expected a work item").not.toBeNull();
  return payloadOf((fetched as FetchedWorkItem).item, "ActivityExecute");
}

/** Narrow a fetch result that the test has just asserted to be present. */
export function present<T>(value: T | null, what = "value"): T {
  expect(value, `expected ${what}`).not.toBeNull();
  return value as T;
}

/**
 * Enqueue a session item, fetch it as `owner` (claiming the session with the owner's lease) and
 * ack it at once: the session stays owned until its lease lapses.
 */
export async function claimSession(
  provider: Provider,
  item: WorkItem,
  owner: SessionFetchConfig,
): Promise<void> {
  await provider.enqueueForWorker(item);
  const fetched = present(await fetchWorkAs(provider, owner), "the claiming fetch to return the item");
  await provider.ackWorkItem(fetched.lockToken, null);
}

// ---------------------------------------------------------------------------------------------
// kv_store
// ---------------------------------------------------------------------------------------------

/** KeyValueSet at `eventId` of `executionId` (last_updated_at_ms defaults to 0, as in duroxide). */
export function kvSet(
  instance: string,
  eventId: number,
  executionId: number,
  key: string,
  value: string,
  lastUpdatedAtMs = 0,
): Event {
  return kvSetEvent(instance, eventId, key, value, { executionId, lastUpdatedAtMs });
}

export function kvClear(instance: string, eventId: number, executionId: number, key: string): Event {
  return kvClearedEvent(instance, eventId, key, { executionId });
}

export function kvClearAll(instance: string, eventId: number, executionId: number): Event {
  return kvClearedAllEvent(instance, eventId, { executionId });
}

/** Poke, fetch (it must be `instance`) and return the locked turn. */
async function pokeAndFetch(provider: Provider, instance: string): Promise<FetchedOrchestrationItem> {
  await poke(provider, instance);
  const fetched = await expectOrchestrationItem(provider);
  expect(fetched.item.instance).toBe(instance);
  return fetched;
}

/** The fixture "KV turn": poke, fetch, ack `events` as `executionId` with default metadata. */
export async function kvTurn(
  provider: Provider,
  instance: string,
  executionId: number,
  events: Event[],
): Promise<void> {
  const fetched = await pokeAndFetch(provider, instance);
  await ack(provider, fetched.lockToken, { executionId, events });
}

/**
 * "CAN to n": one turn marks execution n−1 ContinuedAsNew (which merges its KV delta into the
 * store), then a ContinueAsNew item is enqueued, fetched and acked as execution n with an
 * OrchestrationStarted.
 */
export async function continueAsNewTo(
  provider: Provider,
  instance: string,
  newExecutionId: number,
): Promise<void> {
  const marking = await pokeAndFetch(provider, instance);
  await ack(provider, marking.lockToken, {
    executionId: newExecutionId - 1,
    metadata: testMetadata({ status: "ContinuedAsNew" }),
  });
  await provider.enqueueForOrchestrator(continueAsNew(instance), null);
  const next = await expectOrchestrationItem(provider);
  expect(next.item.instance).toBe(instance);
  await ack(provider, next.lockToken, {
    executionId: newExecutionId,
    events: [startedEvent(instance, 1, { executionId: newExecutionId })],
    metadata: testMetadata(),
  });
}

/** "complete": a turn appending OrchestrationCompleted("done") at event 9999, status Completed. */
export async function completeExecution(
  provider: Provider,
  instance: string,
  executionId: number,
): Promise<void> {
  const fetched = await pokeAndFetch(provider, instance);
  await ack(provider, fetched.lockToken, {
    executionId,
    events: [completedEvent(instance, 9999, "done", { executionId })],
    metadata: testMetadata({ status: "Completed", output: "done" }),
  });
}

/**
 * Poke and fetch the instance, return the turn's KV snapshot as key → value, and ack the turn with
 * nothing (as `executionId`, default metadata) to release it.
 */
export async function fetchKvSnapshot(
  provider: Provider,
  instance: string,
  executionId: number,
): Promise<Map<string, string>> {
  const fetched = await pokeAndFetch(provider, instance);
  const snapshot = new Map([...fetched.item.kvSnapshot].map(([key, entry]) => [key, entry.value]));
  await ack(provider, fetched.lockToken, { executionId });
  return snapshot;
}
