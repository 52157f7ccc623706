/**
 * Shared vocabulary of the validation suite: work item and event builders with duroxide's wire shapes,
 * the standard fixtures (start item, create_instance, poke; docs/validation.md) and assertion helpers.
 *
 * Every builder returns a fresh object, so tests may mutate what they get. Defaults follow the
 * standard fixtures: orchestration "TestOrch", version "1.0.0", input "{}", execution 1.
 */

import type {
  ActivityExecuteItem,
  DispatcherCapabilityFilter,
  ErrorDetails,
  Event,
  EventKind,
  EventOf,
  EventType,
  ExecutionMetadata,
  FetchedOrchestrationItem,
  FetchedWorkItem,
  Provider,
  ProviderAdmin,
  ProviderFactory,
  ScheduledActivityIdentifier,
  SessionFetchConfig,
  TagFilter,
  WorkItem,
  WorkItemKind,
} from "pg-durable";
import { expect } from "vitest";

// ---------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------

/** The engine version written into every event (must be valid semver: capability filters parse it). */
export const DUROXIDE_VERSION = "0.1.26";
export const TEST_ORCHESTRATION = "TestOrch";
export const TEST_VERSION = "1.0.0";
/** A lock long enough that it never expires during a test; used where a test only *holds* a lock. */
export const HOLD_LOCK_MS = 30_000;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Let `ms` of store time pass: advance the factory's clock when it has one, else sleep. For waits on
 * time the store judges (lock expiry, visibility delays, idle windows), not for interleavings.
 */
export async function elapse(factory: ProviderFactory, ms: number): Promise<void> {
  if (factory.clock) factory.clock.advance(ms);
  else await sleep(ms);
}

/** The store's "now" as the factory's providers see it (epoch ms). */
export function storeNow(factory: ProviderFactory): number {
  return factory.clock ? factory.clock.now() : Date.now();
}

// ---------------------------------------------------------------------------------------------
// Work items
// ---------------------------------------------------------------------------------------------

export interface StartItemOptions {
  orchestration?: string;
  input?: string;
  /** null = "no version requested"; the runtime resolves one and reports it through metadata. */
  version?: string | null;
  executionId?: number;
  parentInstance?: string | null;
  parentId?: number | null;
}

/** The fixture "start item": StartOrchestration{TestOrch, "{}", "1.0.0", execution 1}. */
export function startItem(instance: string, options: StartItemOptions = {}): WorkItem {
  return {
    StartOrchestration: {
      instance,
      orchestration: options.orchestration ?? TEST_ORCHESTRATION,
      input: options.input ?? "{}",
      version: options.version === undefined ? TEST_VERSION : options.version,
      parent_instance: options.parentInstance ?? null,
      parent_id: options.parentId ?? null,
      execution_id: options.executionId ?? 1,
    },
  };
}

export interface ActivityOptions {
  input?: string;
  executionId?: number;
  sessionId?: string;
  tag?: string;
}

/** An ActivityExecute for the worker queue; session_id/tag are omitted unless given (wire rule). */
export function activityExecute(
  instance: string,
  id: number,
  name: string,
  options: ActivityOptions = {},
): WorkItem {
  const item: ActivityExecuteItem = {
    instance,
    execution_id: options.executionId ?? 1,
    id,
    name,
    input: options.input ?? "{}",
  };
  if (options.sessionId !== undefined) item.session_id = options.sessionId;
  if (options.tag !== undefined) item.tag = options.tag;
  return { ActivityExecute: item };
}

export function activityCompleted(
  instance: string,
  id: number,
  result = "ok",
  options: { executionId?: number } = {},
): WorkItem {
  return { ActivityCompleted: { instance, execution_id: options.executionId ?? 1, id, result } };
}

export function activityFailed(
  instance: string,
  id: number,
  details: ErrorDetails = appError("activity failed", "ActivityFailed"),
  options: { executionId?: number } = {},
): WorkItem {
  return { ActivityFailed: { instance, execution_id: options.executionId ?? 1, id, details } };
}

export function timerFired(
  instance: string,
  id: number,
  fireAtMs: number,
  options: { executionId?: number } = {},
): WorkItem {
  return { TimerFired: { instance, execution_id: options.executionId ?? 1, id, fire_at_ms: fireAtMs } };
}

export function externalRaised(instance: string, name: string, data = "{}"): WorkItem {
  return { ExternalRaised: { instance, name, data } };
}

export function queueMessage(instance: string, name: string, data = "{}"): WorkItem {
  return { QueueMessage: { instance, name, data } };
}

export function cancelInstance(instance: string, reason = "cancelled by test"): WorkItem {
  return { CancelInstance: { instance, reason } };
}

export interface ContinueAsNewOptions {
  orchestration?: string;
  input?: string;
  version?: string | null;
  carryForwardEvents?: [string, string][];
  initialCustomStatus?: string;
}

export function continueAsNew(instance: string, options: ContinueAsNewOptions = {}): WorkItem {
  return {
    ContinueAsNew: {
      instance,
      orchestration: options.orchestration ?? TEST_ORCHESTRATION,
      input: options.input ?? "{}",
      version: options.version === undefined ? TEST_VERSION : options.version,
      carry_forward_events: options.carryForwardEvents ?? [],
      ...(options.initialCustomStatus !== undefined
        ? { initial_custom_status: options.initialCustomStatus }
        : {}),
    },
  };
}

export function subOrchCompleted(
  parentInstance: string,
  parentId: number,
  result = "ok",
  options: { parentExecutionId?: number } = {},
): WorkItem {
  return {
    SubOrchCompleted: {
      parent_instance: parentInstance,
      parent_execution_id: options.parentExecutionId ?? 1,
      parent_id: parentId,
      result,
    },
  };
}

export function subOrchFailed(
  parentInstance: string,
  parentId: number,
  details: ErrorDetails = appError("child failed"),
  options: { parentExecutionId?: number } = {},
): WorkItem {
  return {
    SubOrchFailed: {
      parent_instance: parentInstance,
      parent_execution_id: options.parentExecutionId ?? 1,
      parent_id: parentId,
      details,
    },
  };
}

/** The fixture "poke": an ExternalRaised{name "poke"} so an instance can be fetched again. */
export function pokeItem(instance: string): WorkItem {
  return externalRaised(instance, "poke", "{}");
}

/** An Application error (default kind OrchestrationFailed, not retryable). */
export function appError(
  message: string,
  kind: "ActivityFailed" | "OrchestrationFailed" | "Panicked" = "OrchestrationFailed",
): ErrorDetails {
  return { Application: { kind, message, retryable: false } };
}

/** The variant name of a work item ("StartOrchestration", "ActivityCompleted", …). */
export function workItemKind(item: WorkItem): WorkItemKind {
  const keys = Object.keys(item);
  if (keys.length !== 1) throw new Error(`work item must have exactly one key, got ${JSON.stringify(keys)}`);
  return keys[0] as WorkItemKind;
}

type PayloadOf<K extends WorkItemKind> = Extract<WorkItem, Record<K, unknown>>[K];

/** The payload of a work item of kind K; fails the test if the item is of another kind. */
export function payloadOf<K extends WorkItemKind>(item: WorkItem | undefined, kind: K): PayloadOf<K> {
  expect(item, `expected a ${kind} work item`).toBeDefined();
  expect(workItemKind(item as WorkItem), `expected a ${kind} work item, got ${JSON.stringify(item)}`).toBe(
    kind,
  );
  return (item as unknown as Record<K, PayloadOf<K>>)[kind];
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

export interface EnvelopeOptions {
  executionId?: number;
  sourceEventId?: number | null;
  timestampMs?: number;
}

/** Any event: the envelope filled in (execution 1, no source event, now, DUROXIDE_VERSION). */
export function makeEvent<K extends EventKind>(
  instance: string,
  eventId: number,
  kind: K,
  options: EnvelopeOptions = {},
): EventOf<K["type"]> {
  return {
    event_id: eventId,
    source_event_id: options.sourceEventId ?? null,
    instance_id: instance,
    execution_id: options.executionId ?? 1,
    timestamp_ms: options.timestampMs ?? Date.now(),
    duroxide_version: DUROXIDE_VERSION,
    ...kind,
  } as unknown as EventOf<K["type"]>;
}

export interface StartedOptions extends EnvelopeOptions {
  name?: string;
  version?: string;
  input?: string;
  parentInstance?: string | null;
  parentId?: number | null;
  carryForwardEvents?: [string, string][];
  initialCustomStatus?: string;
}

export function startedEvent(
  instance: string,
  eventId = 1,
  options: StartedOptions = {},
): EventOf<"OrchestrationStarted"> {
  return makeEvent(
    instance,
    eventId,
    {
      type: "OrchestrationStarted",
      name: options.name ?? TEST_ORCHESTRATION,
      version: options.version ?? TEST_VERSION,
      input: options.input ?? "{}",
      parent_instance: options.parentInstance ?? null,
      parent_id: options.parentId ?? null,
      ...(options.carryForwardEvents !== undefined
        ? { carry_forward_events: options.carryForwardEvents }
        : {}),
      ...(options.initialCustomStatus !== undefined
        ? { initial_custom_status: options.initialCustomStatus }
        : {}),
    },
    options,
  );
}

export function completedEvent(
  instance: string,
  eventId: number,
  output = "done",
  options: EnvelopeOptions = {},
): EventOf<"OrchestrationCompleted"> {
  return makeEvent(instance, eventId, { type: "OrchestrationCompleted", output }, options);
}

export function failedEvent(
  instance: string,
  eventId: number,
  details: ErrorDetails = appError("orchestration failed"),
  options: EnvelopeOptions = {},
): EventOf<"OrchestrationFailed"> {
  return makeEvent(instance, eventId, { type: "OrchestrationFailed", details }, options);
}

export function continuedAsNewEvent(
  instance: string,
  eventId: number,
  input = "{}",
  options: EnvelopeOptions = {},
): EventOf<"OrchestrationContinuedAsNew"> {
  return makeEvent(instance, eventId, { type: "OrchestrationContinuedAsNew", input }, options);
}

export function cancelRequestedEvent(
  instance: string,
  eventId: number,
  reason = "cancelled by test",
  options: EnvelopeOptions = {},
): EventOf<"OrchestrationCancelRequested"> {
  return makeEvent(instance, eventId, { type: "OrchestrationCancelRequested", reason }, options);
}

export interface ActivityScheduledOptions extends EnvelopeOptions {
  input?: string;
  sessionId?: string;
  tag?: string;
}

export function activityScheduledEvent(
  instance: string,
  eventId: number,
  name: string,
  options: ActivityScheduledOptions = {},
): EventOf<"ActivityScheduled"> {
  return makeEvent(
    instance,
    eventId,
    {
      type: "ActivityScheduled",
      name,
      input: options.input ?? "{}",
      ...(options.sessionId !== undefined ? { session_id: options.sessionId } : {}),
      ...(options.tag !== undefined ? { tag: options.tag } : {}),
    },
    options,
  );
}

export function activityCompletedEvent(
  instance: string,
  eventId: number,
  sourceEventId: number,
  result = "ok",
  options: Omit<EnvelopeOptions, "sourceEventId"> = {},
): EventOf<"ActivityCompleted"> {
  return makeEvent(instance, eventId, { type: "ActivityCompleted", result }, { ...options, sourceEventId });
}

export function activityFailedEvent(
  instance: string,
  eventId: number,
  sourceEventId: number,
  details: ErrorDetails = appError("activity failed", "ActivityFailed"),
  options: Omit<EnvelopeOptions, "sourceEventId"> = {},
): EventOf<"ActivityFailed"> {
  return makeEvent(instance, eventId, { type: "ActivityFailed", details }, { ...options, sourceEventId });
}

export function activityCancelRequestedEvent(
  instance: string,
  eventId: number,
  sourceEventId: number,
  reason = "cancelled",
  options: Omit<EnvelopeOptions, "sourceEventId"> = {},
): EventOf<"ActivityCancelRequested"> {
  return makeEvent(
    instance,
    eventId,
    { type: "ActivityCancelRequested", reason },
    { ...options, sourceEventId },
  );
}

export function timerCreatedEvent(
  instance: string,
  eventId: number,
  fireAtMs: number,
  options: EnvelopeOptions = {},
): EventOf<"TimerCreated"> {
  return makeEvent(instance, eventId, { type: "TimerCreated", fire_at_ms: fireAtMs }, options);
}

export function timerFiredEvent(
  instance: string,
  eventId: number,
  sourceEventId: number,
  fireAtMs: number,
  options: Omit<EnvelopeOptions, "sourceEventId"> = {},
): EventOf<"TimerFired"> {
  return makeEvent(
    instance,
    eventId,
    { type: "TimerFired", fire_at_ms: fireAtMs },
    { ...options, sourceEventId },
  );
}

export function externalSubscribedEvent(
  instance: string,
  eventId: number,
  name: string,
  options: EnvelopeOptions = {},
): EventOf<"ExternalSubscribed"> {
  return makeEvent(instance, eventId, { type: "ExternalSubscribed", name }, options);
}

export function externalEvent(
  instance: string,
  eventId: number,
  name: string,
  data = "{}",
  options: EnvelopeOptions = {},
): EventOf<"ExternalEvent"> {
  return makeEvent(instance, eventId, { type: "ExternalEvent", name, data }, options);
}

export function subOrchestrationScheduledEvent(
  instance: string,
  eventId: number,
  name: string,
  childInstance: string,
  input = "{}",
  options: EnvelopeOptions = {},
): EventOf<"SubOrchestrationScheduled"> {
  return makeEvent(
    instance,
    eventId,
    { type: "SubOrchestrationScheduled", name, instance: childInstance, input },
    options,
  );
}

export function subOrchestrationCompletedEvent(
  instance: string,
  eventId: number,
  sourceEventId: number,
  result = "ok",
  options: Omit<EnvelopeOptions, "sourceEventId"> = {},
): EventOf<"SubOrchestrationCompleted"> {
  return makeEvent(
    instance,
    eventId,
    { type: "SubOrchestrationCompleted", result },
    { ...options, sourceEventId },
  );
}

export function subOrchestrationFailedEvent(
  instance: string,
  eventId: number,
  sourceEventId: number,
  details: ErrorDetails = appError("child failed"),
  options: Omit<EnvelopeOptions, "sourceEventId"> = {},
): EventOf<"SubOrchestrationFailed"> {
  return makeEvent(
    instance,
    eventId,
    { type: "SubOrchestrationFailed", details },
    { ...options, sourceEventId },
  );
}

export function customStatusEvent(
  instance: string,
  eventId: number,
  status: string | null,
  options: EnvelopeOptions = {},
): EventOf<"CustomStatusUpdated"> {
  return makeEvent(instance, eventId, { type: "CustomStatusUpdated", status }, options);
}

export function kvSetEvent(
  instance: string,
  eventId: number,
  key: string,
  value: string,
  options: EnvelopeOptions & { lastUpdatedAtMs?: number } = {},
): EventOf<"KeyValueSet"> {
  return makeEvent(
    instance,
    eventId,
    { type: "KeyValueSet", key, value, last_updated_at_ms: options.lastUpdatedAtMs ?? 0 },
    options,
  );
}

export function kvClearedEvent(
  instance: string,
  eventId: number,
  key: string,
  options: EnvelopeOptions = {},
): EventOf<"KeyValueCleared"> {
  return makeEvent(instance, eventId, { type: "KeyValueCleared", key }, options);
}

export function kvClearedAllEvent(
  instance: string,
  eventId: number,
  options: EnvelopeOptions = {},
): EventOf<"KeyValuesCleared"> {
  return makeEvent(instance, eventId, { type: "KeyValuesCleared" }, options);
}

/** The events of one kind, narrowed. */
export function eventsOfType<T extends EventType>(events: readonly Event[], type: T): EventOf<T>[] {
  return events.filter((e): e is EventOf<T> => e.type === type);
}

/** Narrow one event to a kind; fails the test if it is of another kind. */
export function asEvent<T extends EventType>(event: Event | undefined, type: T): EventOf<T> {
  expect(event, `expected a ${type} event`).toBeDefined();
  expect((event as Event).type).toBe(type);
  return event as EventOf<T>;
}

// ---------------------------------------------------------------------------------------------
// Metadata, filters
// ---------------------------------------------------------------------------------------------

/** ExecutionMetadata::default(): no name/version (so no instance row), status untouched. */
export function defaultMetadata(): ExecutionMetadata {
  return {};
}

/** Metadata naming the orchestration (creates/updates the instance row), plus any extra fields. */
export function testMetadata(extra: ExecutionMetadata = {}): ExecutionMetadata {
  return { orchestrationName: TEST_ORCHESTRATION, orchestrationVersion: TEST_VERSION, ...extra };
}

export const defaultOnly = (): TagFilter => ({ kind: "defaultOnly" });
export const tagsOnly = (...tags: string[]): TagFilter => ({ kind: "tags", tags: new Set(tags) });
export const defaultAnd = (...tags: string[]): TagFilter => ({ kind: "defaultAnd", tags: new Set(tags) });
export const anyTag = (): TagFilter => ({ kind: "any" });
export const noTags = (): TagFilter => ({ kind: "none" });

export function sessionConfig(ownerId: string, lockTimeoutMs = HOLD_LOCK_MS): SessionFetchConfig {
  return { ownerId, lockTimeoutMs };
}

export function semver(text: string): { major: number; minor: number; patch: number } {
  const [major, minor, patch] = text.split(".").map(Number);
  if (major === undefined || minor === undefined || patch === undefined)
    throw new Error(`bad semver ${text}`);
  return { major, minor, patch };
}

/** A capability filter accepting pinned versions in [min, max] (inclusive), e.g. ("1.0.0", "2.0.0"). */
export function versionFilter(min: string, max: string): DispatcherCapabilityFilter {
  return { supportedDuroxideVersions: [{ min: semver(min), max: semver(max) }] };
}

// ---------------------------------------------------------------------------------------------
// Provider operations
// ---------------------------------------------------------------------------------------------

export interface FetchOptions {
  lockTimeoutMs?: number;
  pollTimeoutMs?: number;
  filter?: DispatcherCapabilityFilter | null;
}

/** Fetch an orchestration item (default: 30 s lock, no wait); null when none. */
export function fetchOrchestration(
  provider: Provider,
  options: FetchOptions = {},
): Promise<FetchedOrchestrationItem | null> {
  return provider.fetchOrchestrationItem(
    options.lockTimeoutMs ?? HOLD_LOCK_MS,
    options.pollTimeoutMs ?? 0,
    options.filter ?? null,
  );
}

/** Fetch an orchestration item and fail the test if there is none. */
export async function expectOrchestrationItem(
  provider: Provider,
  options: FetchOptions = {},
): Promise<FetchedOrchestrationItem> {
  const fetched = await fetchOrchestration(provider, options);
  expect(fetched, "expected an orchestration item").not.toBeNull();
  return fetched as FetchedOrchestrationItem;
}

/** Fetch and fail the test if anything comes back. */
export async function expectNoOrchestrationItem(
  provider: Provider,
  options: FetchOptions = {},
): Promise<void> {
  const fetched = await fetchOrchestration(provider, options);
  expect(fetched, `expected no orchestration item, got ${fetched?.item.instance}`).toBeNull();
}

export interface WorkFetchOptions {
  lockTimeoutMs?: number;
  pollTimeoutMs?: number;
  session?: SessionFetchConfig | null;
  tagFilter?: TagFilter;
}

/** Fetch a work item (default: 30 s lock, no wait, no session, untagged only); null when none. */
export function fetchWork(
  provider: Provider,
  options: WorkFetchOptions = {},
): Promise<FetchedWorkItem | null> {
  return provider.fetchWorkItem(
    options.lockTimeoutMs ?? HOLD_LOCK_MS,
    options.pollTimeoutMs ?? 0,
    options.session ?? null,
    options.tagFilter ?? defaultOnly(),
  );
}

export async function expectWorkItem(
  provider: Provider,
  options: WorkFetchOptions = {},
): Promise<FetchedWorkItem> {
  const fetched = await fetchWork(provider, options);
  expect(fetched, "expected a work item").not.toBeNull();
  return fetched as FetchedWorkItem;
}

export async function expectNoWorkItem(provider: Provider, options: WorkFetchOptions = {}): Promise<void> {
  const fetched = await fetchWork(provider, options);
  expect(fetched, `expected no work item, got ${JSON.stringify(fetched?.item)}`).toBeNull();
}

export interface AckOptions {
  executionId?: number;
  events?: Event[];
  workerItems?: WorkItem[];
  orchestratorItems?: WorkItem[];
  metadata?: ExecutionMetadata;
  cancelledActivities?: ScheduledActivityIdentifier[];
}

/** ackOrchestrationItem with named arguments (defaults: execution 1, nothing else, default metadata). */
export function ack(provider: Provider, lockToken: string, options: AckOptions = {}): Promise<void> {
  return provider.ackOrchestrationItem(
    lockToken,
    options.executionId ?? 1,
    options.events ?? [],
    options.workerItems ?? [],
    options.orchestratorItems ?? [],
    options.metadata ?? defaultMetadata(),
    options.cancelledActivities ?? [],
  );
}

/**
 * The fixture create_instance: enqueue a start, fetch (30 s lock), ack OrchestrationStarted at
 * event 1 with metadata {TestOrch, 1.0.0}. The execution stays Running.
 */
export async function createInstance(provider: Provider, instance: string): Promise<void> {
  await provider.enqueueForOrchestrator(startItem(instance), null);
  const fetched = await expectOrchestrationItem(provider);
  expect(fetched.item.instance).toBe(instance);
  await ack(provider, fetched.lockToken, { events: [startedEvent(instance, 1)], metadata: testMetadata() });
}

/** Enqueue a poke so the instance can be fetched again. */
export function poke(provider: Provider, instance: string): Promise<void> {
  return provider.enqueueForOrchestrator(pokeItem(instance), null);
}

/**
 * One orchestration turn: poke, fetch (it must be `instance`), ack with the given events.
 * Returns the fetched item so callers can inspect what the turn saw.
 */
export async function runTurn(
  provider: Provider,
  instance: string,
  options: AckOptions = {},
): Promise<FetchedOrchestrationItem> {
  await poke(provider, instance);
  const fetched = await expectOrchestrationItem(provider);
  expect(fetched.item.instance).toBe(instance);
  await ack(provider, fetched.lockToken, options);
  return fetched;
}

/** The management capability; fails the test if the provider has none. */
export function admin(provider: Provider): ProviderAdmin {
  const capability = provider.asManagementCapability();
  expect(capability, "provider must expose a management capability").not.toBeNull();
  return capability as ProviderAdmin;
}

/** Await a promise that must reject; returns the error for further assertions. */
export async function expectFailure(promise: Promise<unknown>, what = "operation"): Promise<Error> {
  let outcome: unknown;
  try {
    await promise;
  } catch (error) {
    outcome = error;
  }
  expect(outcome, `${what} must fail`).toBeInstanceOf(Error);
  return outcome as Error;
}

/** Whether an error says it may be retried (ProviderError.retryable); false for anything else. */
export function isRetryable(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { retryable?: unknown }).retryable === true;
}

/** The `id`s of a batch's ActivityCompleted messages, in batch order. */
export function completionIds(messages: readonly WorkItem[]): number[] {
  return messages.flatMap((m) => ("ActivityCompleted" in m ? [m.ActivityCompleted.id] : []));
}
