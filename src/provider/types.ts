/**
 * The provider contract: duroxide's Provider / ProviderAdmin traits rendered in TypeScript.
 *
 * Wire types (WorkItem, Event, ErrorDetails, …) keep duroxide's snake_case JSON field names because
 * they are persisted verbatim and must stay readable by other duroxide-family tools. Everything else
 * is camelCase. Durations are milliseconds, timestamps are milliseconds since the Unix epoch.
 * See docs/store-contract.md for the semantics of every method.
 */

/** An unsigned integer carried as a JS number (all real values stay far below 2^53). */
export type U64 = number;

// ---------------------------------------------------------------------------------------------
// Error details (externally tagged)
// ---------------------------------------------------------------------------------------------

export type AppErrorKind =
  | "ActivityFailed"
  | "OrchestrationFailed"
  | "Panicked"
  | { Cancelled: { reason: string } };

export type PoisonMessageType =
  | { Orchestration: { instance: string; execution_id: U64 } }
  | { Activity: { instance: string; execution_id: U64; activity_name: string; activity_id: U64 } }
  | { FailedDeserialization: { instance: string; execution_id: U64; error: string } };

export type ErrorDetails =
  | { Infrastructure: { operation: string; message: string; retryable: boolean } }
  | { Configuration: { kind: "Nondeterminism"; resource: string; message: string | null } }
  | { Application: { kind: AppErrorKind; message: string; retryable: boolean } }
  | {
      Poison: {
        attempt_count: number;
        max_attempts: number;
        message_type: PoisonMessageType;
        message: string;
      };
    };

// ---------------------------------------------------------------------------------------------
// Work items (externally tagged: exactly one key, the variant name)
// ---------------------------------------------------------------------------------------------

export interface StartOrchestrationItem {
  instance: string;
  orchestration: string;
  input: string;
  version: string | null;
  parent_instance: string | null;
  parent_id: U64 | null;
  /** duroxide ≥ 0.1.30: the parent execution that scheduled this child; omitted when absent. */
  parent_execution_id?: U64;
  execution_id: U64;
}
export interface ActivityExecuteItem {
  instance: string;
  execution_id: U64;
  id: U64;
  name: string;
  input: string;
  session_id?: string;
  tag?: string;
  /**
   * pg-durable's own fields, not duroxide's (stores keep unknown keys; other engines ignore them):
   * the orchestration that scheduled the activity, so the worker's ActivityContext can name it
   * without a query. Omitted by older runtimes: the worker then looks it up.
   */
  orchestration_name?: string;
  orchestration_version?: string;
}
export interface ActivityCompletedItem {
  instance: string;
  execution_id: U64;
  id: U64;
  result: string;
}
export interface ActivityFailedItem {
  instance: string;
  execution_id: U64;
  id: U64;
  details: ErrorDetails;
}
export interface TimerFiredItem {
  instance: string;
  execution_id: U64;
  id: U64;
  fire_at_ms: U64;
}
export interface ExternalRaisedItem {
  instance: string;
  name: string;
  data: string;
}
export interface SubOrchCompletedItem {
  parent_instance: string;
  parent_execution_id: U64;
  parent_id: U64;
  result: string;
}
export interface SubOrchFailedItem {
  parent_instance: string;
  parent_execution_id: U64;
  parent_id: U64;
  details: ErrorDetails;
}
export interface CancelInstanceItem {
  instance: string;
  reason: string;
}
export interface ContinueAsNewItem {
  instance: string;
  orchestration: string;
  input: string;
  version: string | null;
  /** duroxide ≥ 0.1.30: the parent link of a child that continues as new; each omitted when absent. */
  parent_instance?: string;
  parent_id?: U64;
  parent_execution_id?: U64;
  carry_forward_events: [string, string][];
  initial_custom_status?: string;
}
export interface QueueMessageItem {
  instance: string;
  name: string;
  data: string;
}

export type WorkItem =
  | { StartOrchestration: StartOrchestrationItem }
  | { ActivityExecute: ActivityExecuteItem }
  | { ActivityCompleted: ActivityCompletedItem }
  | { ActivityFailed: ActivityFailedItem }
  | { TimerFired: TimerFiredItem }
  | { ExternalRaised: ExternalRaisedItem }
  | { SubOrchCompleted: SubOrchCompletedItem }
  | { SubOrchFailed: SubOrchFailedItem }
  | { CancelInstance: CancelInstanceItem }
  | { ContinueAsNew: ContinueAsNewItem }
  | { QueueMessage: QueueMessageItem };

/** Union of the keys a WorkItem object can have: "StartOrchestration" | "ActivityExecute" | … */
export type WorkItemKind = WorkItem extends infer W ? (W extends unknown ? keyof W : never) : never;

// ---------------------------------------------------------------------------------------------
// Events (flat envelope + internally tagged "type")
// ---------------------------------------------------------------------------------------------

export interface EventEnvelope {
  event_id: U64;
  source_event_id: U64 | null;
  instance_id: string;
  execution_id: U64;
  timestamp_ms: U64;
  duroxide_version: string;
}

export type EventKind =
  | {
      type: "OrchestrationStarted";
      name: string;
      version: string;
      input: string;
      parent_instance: string | null;
      parent_id: U64 | null;
      /** duroxide ≥ 0.1.30: set on children started by such a runtime; omitted when absent. */
      parent_execution_id?: U64;
      carry_forward_events?: [string, string][];
      initial_custom_status?: string;
    }
  | { type: "OrchestrationCompleted"; output: string }
  | { type: "OrchestrationFailed"; details: ErrorDetails }
  | { type: "ActivityScheduled"; name: string; input: string; session_id?: string; tag?: string }
  | { type: "ActivityCompleted"; result: string }
  | { type: "ActivityFailed"; details: ErrorDetails }
  | { type: "ActivityCancelRequested"; reason: string }
  | { type: "TimerCreated"; fire_at_ms: U64 }
  | { type: "TimerFired"; fire_at_ms: U64 }
  | { type: "ExternalSubscribed"; name: string }
  | { type: "ExternalEvent"; name: string; data: string }
  | { type: "OrchestrationChained"; name: string; instance: string; input: string }
  | { type: "SubOrchestrationScheduled"; name: string; instance: string; input: string }
  | { type: "SubOrchestrationCompleted"; result: string }
  | { type: "SubOrchestrationFailed"; details: ErrorDetails }
  | { type: "SubOrchestrationCancelRequested"; reason: string }
  | { type: "OrchestrationContinuedAsNew"; input: string }
  | { type: "OrchestrationCancelRequested"; reason: string }
  | { type: "ExternalSubscribedCancelled"; reason: string }
  | { type: "ExternalSubscribedPersistent"; name: string }
  | { type: "ExternalEventPersistent"; name: string; data: string }
  | { type: "ExternalSubscribedPersistentCancelled"; reason: string }
  | { type: "CustomStatusUpdated"; status: string | null }
  | { type: "KeyValueSet"; key: string; value: string; last_updated_at_ms: U64 }
  | { type: "KeyValueCleared"; key: string }
  | { type: "KeyValuesCleared" };

export type EventType = EventKind["type"];

export type Event = EventEnvelope & EventKind;

/** Narrow an Event to one of its kinds: `EventOf<"TimerCreated">`. */
export type EventOf<T extends EventType> = EventEnvelope & Extract<EventKind, { type: T }>;

// ---------------------------------------------------------------------------------------------
// Non-wire types
// ---------------------------------------------------------------------------------------------

export interface KvEntry {
  value: string;
  lastUpdatedAtMs: number;
}

/** A fetched, locked orchestration turn. */
export interface OrchestrationItem {
  instance: string;
  orchestrationName: string;
  executionId: number;
  /** Orchestration version; "unknown" when not known. */
  version: string;
  /** All events of executionId, ascending event_id; [] when historyError is set. */
  history: Event[];
  /** The tagged batch, in enqueue order. */
  messages: WorkItem[];
  /** Set when any history row failed to decode; the lock is still held. */
  historyError: string | null;
  /** kv_store only (completed executions), never the current execution's delta. */
  kvSnapshot: Map<string, KvEntry>;
}

export interface FetchedOrchestrationItem {
  item: OrchestrationItem;
  lockToken: string;
  attemptCount: number;
}

export interface FetchedWorkItem {
  item: WorkItem;
  lockToken: string;
  attemptCount: number;
}

export type ExecutionStatus = "Running" | "Completed" | "Failed" | "ContinuedAsNew";

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
}

/** Inclusive on both ends. */
export interface SemverRange {
  min: SemVer;
  max: SemVer;
}

export interface DispatcherCapabilityFilter {
  /** Providers apply only the first range ("phase 1"); an empty list matches nothing. */
  supportedDuroxideVersions: SemverRange[];
}

/** Pre-computed by the runtime; the provider stores it blindly. */
export interface ExecutionMetadata {
  /** null/undefined = leave status alone. */
  status?: ExecutionStatus | string | null;
  output?: string | null;
  orchestrationName?: string | null;
  orchestrationVersion?: string | null;
  parentInstanceId?: string | null;
  /** Set only on the first turn of an execution. */
  pinnedDuroxideVersion?: SemVer | null;
}

export interface ScheduledActivityIdentifier {
  instance: string;
  executionId: number;
  activityId: number;
}

export const MAX_WORKER_TAGS = 5;

export type TagFilter =
  | { kind: "defaultOnly" }
  | { kind: "tags"; tags: ReadonlySet<string> }
  | { kind: "defaultAnd"; tags: ReadonlySet<string> }
  | { kind: "any" }
  | { kind: "none" };

export interface SessionFetchConfig {
  /** Session owner identity; all slots sharing it count as one owner. */
  ownerId: string;
  /** Session lease granted/extended when an item of the session is fetched. */
  lockTimeoutMs: number;
}

export interface CustomStatusChange {
  customStatus: string | null;
  version: number;
}

export interface SystemStats {
  historyEventCount: number;
  historySizeBytes: number;
  queuePendingCount: number;
  kvUserKeyCount: number;
  kvTotalValueBytes: number;
}

export interface InstanceInfo {
  instanceId: string;
  orchestrationName: string;
  /** "unknown" when null in storage. */
  orchestrationVersion: string;
  currentExecutionId: number;
  status: string;
  output: string | null;
  createdAt: number;
  updatedAt: number;
  parentInstanceId: string | null;
}

export interface ExecutionInfo {
  executionId: number;
  status: string;
  output: string | null;
  startedAt: number;
  completedAt: number | null;
  eventCount: number;
}

export interface SystemMetrics {
  totalInstances: number;
  totalExecutions: number;
  runningInstances: number;
  completedInstances: number;
  failedInstances: number;
  totalEvents: number;
}

export interface QueueDepths {
  orchestratorQueue: number;
  workerQueue: number;
  timerQueue: 0;
}

export interface InstanceTree {
  rootId: string;
  /** Includes rootId. */
  allIds: string[];
}

export interface DeleteInstanceResult {
  instancesDeleted: number;
  executionsDeleted: number;
  eventsDeleted: number;
  /** Orchestrator + worker rows. */
  queueMessagesDeleted: number;
}

export interface PruneOptions {
  keepLast?: number | null;
  completedBefore?: number | null;
}

export interface PruneResult {
  instancesProcessed: number;
  executionsDeleted: number;
  eventsDeleted: number;
}

export interface InstanceFilter {
  /** Allowlist; [] means "match nothing". */
  instanceIds?: string[] | null;
  /** Epoch ms, compared with the current execution's completed_at. */
  completedBefore?: number | null;
  /** Default 1000. */
  limit?: number | null;
}

// ---------------------------------------------------------------------------------------------
// The interfaces
// ---------------------------------------------------------------------------------------------

export interface Provider {
  name(): string;
  version(): string;

  // orchestrator queue + instance lock
  enqueueForOrchestrator(item: WorkItem, delayMs: number | null): Promise<void>;
  fetchOrchestrationItem(
    lockTimeoutMs: number,
    pollTimeoutMs: number,
    filter: DispatcherCapabilityFilter | null,
  ): Promise<FetchedOrchestrationItem | null>;
  ackOrchestrationItem(
    lockToken: string,
    executionId: number,
    historyDelta: Event[],
    workerItems: WorkItem[],
    orchestratorItems: WorkItem[],
    metadata: ExecutionMetadata,
    cancelledActivities: ScheduledActivityIdentifier[],
  ): Promise<void>;
  /**
   * Optional: ackOrchestrationItem(…) then fetchOrchestrationItem(lockTimeoutMs, 0, filter) in one
   * round trip and one transaction, never waiting (docs/store-contract.md §4.6). The ack's errors
   * are ackOrchestrationItem's, and a failed ack fetches nothing (the lock stays held). Null when
   * nothing is ready. A runtime without it acks and fetches separately.
   */
  ackOrchestrationItemAndFetchNext?(
    lockToken: string,
    executionId: number,
    historyDelta: Event[],
    workerItems: WorkItem[],
    orchestratorItems: WorkItem[],
    metadata: ExecutionMetadata,
    cancelledActivities: ScheduledActivityIdentifier[],
    lockTimeoutMs: number,
    filter: DispatcherCapabilityFilter | null,
  ): Promise<FetchedOrchestrationItem | null>;
  abandonOrchestrationItem(lockToken: string, delayMs: number | null, ignoreAttempt: boolean): Promise<void>;
  renewOrchestrationItemLock(lockToken: string, extendForMs: number): Promise<void>;

  // worker queue
  enqueueForWorker(item: WorkItem): Promise<void>;
  fetchWorkItem(
    lockTimeoutMs: number,
    pollTimeoutMs: number,
    session: SessionFetchConfig | null,
    tagFilter: TagFilter,
  ): Promise<FetchedWorkItem | null>;
  ackWorkItem(lockToken: string, completion: WorkItem | null): Promise<void>;
  renewWorkItemLock(lockToken: string, extendForMs: number): Promise<void>;
  abandonWorkItem(lockToken: string, delayMs: number | null, ignoreAttempt: boolean): Promise<void>;
  /**
   * Optional: ackWorkItem(lockToken, completion) then fetchWorkItem(lockTimeoutMs, 0, session,
   * tagFilter) in one round trip and one transaction, never waiting (docs/store-contract.md §5.1).
   * The ack's errors are ackWorkItem's, and a failed ack fetches nothing. Null when nothing is
   * available. A runtime without it acks and fetches separately.
   */
  ackWorkItemAndFetchNext?(
    lockToken: string,
    completion: WorkItem | null,
    lockTimeoutMs: number,
    session: SessionFetchConfig | null,
    tagFilter: TagFilter,
  ): Promise<FetchedWorkItem | null>;

  // sessions
  renewSessionLock(ownerIds: readonly string[], extendForMs: number, idleTimeoutMs: number): Promise<number>;
  cleanupOrphanedSessions(idleTimeoutMs: number): Promise<number>;

  // history
  read(instance: string): Promise<Event[]>;
  readWithExecution(instance: string, executionId: number): Promise<Event[]>;
  appendWithExecution(instance: string, executionId: number, events: Event[]): Promise<void>;

  // lightweight reads
  getCustomStatus(instance: string, lastSeenVersion: number): Promise<CustomStatusChange | null>;
  getKvValue(instance: string, key: string): Promise<string | null>;
  getKvAllValues(instance: string): Promise<Map<string, string>>;
  getInstanceStats(instance: string): Promise<SystemStats | null>;

  asManagementCapability(): ProviderAdmin | null;

  // clocks (optional): see docs/clocks.md
  /** The clock this provider passes to the store as "now" (epoch ms); runtimes default to it. */
  now?(): number;
  /** The database server's own clock (epoch ms), read in one cheap round trip, to measure skew. */
  databaseTimeMs?(): Promise<number>;

  /**
   * Wake-ups (optional): how an idle dispatcher slot or a waiting client learns that something
   * changed instead of polling (docs/architecture.md, "Wake-ups"). A provider without them is
   * polled: dispatchers fetch every `dispatcherMinPollIntervalMs` (passing their long-poll timeout
   * to the fetch, which may wait inside the provider), clients re-read with a backoff.
   */
  readonly wakeups?: ProviderWakeups;
}

/** The fetch a wake-up is for: its queue and what it can take (so a wake-up reaches a fetch that can use it). */
export type WorkFetch = OrchestratorFetch | WorkerFetch;
export type OrchestratorFetch = { queue: "orchestrator"; filter: DispatcherCapabilityFilter | null };
export type WorkerFetch = { queue: "worker"; session: SessionFetchConfig | null; tagFilter: TagFilter };

export interface ProviderWakeups {
  /** The wake-ups of one fetching loop (a dispatcher slot): see WorkWaiter. */
  workWaiter(): WorkWaiter;
  /**
   * Start watching `instance` for a change of its status, custom status or KV; read it after
   * this call, then wait only if the read did not show what you wanted.
   */
  watchInstance(instance: string): InstanceWatch;
}

/**
 * One fetching loop's wake-ups, used in turn: fetch() (returns at once with what the store has),
 * then, when it found nothing, wait(). Work that arrives while the fetch runs ends the wait that
 * follows at once, so nothing is missed between a look and a wait.
 */
export interface WorkWaiter {
  /**
   * Run `fetch`, a fetch that can take what `what` says, noting first where the queue stands. A
   * wake-up that ended the previous wait but that this fetch could not use goes on to another
   * waiting fetch that can.
   */
  fetch<T>(what: WorkFetch, fetch: () => Promise<T | null>): Promise<T | null>;
  /**
   * After an empty fetch: resolve when work that fetch can take may have arrived (enqueued
   * anywhere, or a delayed row or lock expiry falling due), after at most `ms`, or when `signal`
   * aborts. It may end sooner (that only costs a fetch).
   */
  wait(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface InstanceWatch {
  /** Resolve on a change of the instance, after `ms`, or when `signal` aborts; ends the watch. */
  wait(ms: number, signal?: AbortSignal): Promise<void>;
  /** End the watch without waiting (the read showed what was wanted). */
  cancel(): void;
}

export interface ProviderAdmin {
  listInstances(): Promise<string[]>;
  listInstancesByStatus(status: string): Promise<string[]>;
  listExecutions(instance: string): Promise<number[]>;
  readHistoryWithExecutionId(instance: string, executionId: number): Promise<Event[]>;
  readHistory(instance: string): Promise<Event[]>;
  latestExecutionId(instance: string): Promise<number>;
  getInstanceInfo(instance: string): Promise<InstanceInfo>;
  getExecutionInfo(instance: string, executionId: number): Promise<ExecutionInfo>;
  getSystemMetrics(): Promise<SystemMetrics>;
  getQueueDepths(): Promise<QueueDepths>;

  listChildren(instanceId: string): Promise<string[]>;
  getParentId(instanceId: string): Promise<string | null>;
  deleteInstancesAtomic(ids: readonly string[], force: boolean): Promise<DeleteInstanceResult>;

  getInstanceTree(instanceId: string): Promise<InstanceTree>;
  deleteInstance(instanceId: string, force: boolean): Promise<DeleteInstanceResult>;
  deleteInstanceBulk(filter: InstanceFilter): Promise<DeleteInstanceResult>;
  pruneExecutions(instanceId: string, options: PruneOptions): Promise<PruneResult>;
  pruneExecutionsBulk(filter: InstanceFilter, options: PruneOptions): Promise<PruneResult>;
}
