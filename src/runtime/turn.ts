/**
 * One orchestration turn, from a fetched item to what the ack must commit (runtime notes §1.2
 * steps c–l): pick the execution to run, resolve the handler, convert the batch, replay, and turn
 * the result into the history delta, worker items, orchestrator items, metadata and activity
 * cancellations. Pure apart from reading the clock: the dispatcher does the I/O.
 */
import type {
  ContinueAsNewItem,
  ErrorDetails,
  Event,
  EventOf,
  ExecutionMetadata,
  OrchestrationItem,
  ScheduledActivityIdentifier,
  StartOrchestrationItem,
  WorkItem,
} from "../provider/types.ts";
import { collisionNotices } from "./duplicate-starts.ts";
import { displayError } from "./errors.ts";
import { childInstanceId, EventLog, findStarted, isFinalEvent, parentExecutionId } from "./events.ts";
import { fromJson } from "./json.ts";
import { convertMessages } from "./message-conversion.ts";
import type { LogLevel } from "./orchestration-context.ts";
import type { OrchestrationRegistry } from "./registry.ts";
import { type OrchestrationFunction, ReplayEngine, type ReplayResult } from "./replay-engine.ts";
import { parseSemver, type ReplayPolicy, replayPolicyFor } from "./semver.ts";

/** Carried-forward queue messages per continue-as-new (duroxide's MAX_CARRY_FORWARD_EVENTS since 0.1.27). */
export const MAX_CARRY_FORWARD = 100;

export interface AckPlan {
  executionId: number;
  /**
   * Set when the plan notifies a parent whose execution id is not recorded in the child's start:
   * the dispatcher must look it up before the ack (see parent-link.ts).
   */
  parentToResolve?: { parentInstance: string; parentId: number; childInstance: string };
  delta: Event[];
  workerItems: WorkItem[];
  orchestratorItems: WorkItem[];
  metadata: ExecutionMetadata;
  cancelledActivities: ScheduledActivityIdentifier[];
}

export type TurnDecision =
  | { kind: "ack"; plan: AckPlan; outcome: TurnOutcomeKind }
  | { kind: "unregistered"; name: string; version: string | null }
  /**
   * The execution ended in continue-as-new and its successor's start is not in the batch (not
   * visible yet): nothing may be written; the dispatcher hands the whole batch back with the
   * counted unregistered backoff (notes §1.9).
   */
  | { kind: "deferred" };

export type TurnOutcomeKind =
  | "dropped"
  | "continue"
  | "completed"
  | "failed"
  | "continuedAsNew"
  | "cancelled";

export interface TurnDeps {
  registry: OrchestrationRegistry;
  trace: (instance: string, level: LogLevel, message: string) => void;
  /** The runtime's clock (event timestamps, timer deadlines). Default Date.now. */
  clock?: () => number;
}

/**
 * The start message of the batch: its ContinueAsNew if it holds one (the successor's start wins
 * over any StartOrchestration, whatever the queue order), else the first StartOrchestration.
 */
export function startMessage(
  messages: readonly WorkItem[],
): { StartOrchestration: StartOrchestrationItem } | { ContinueAsNew: ContinueAsNewItem } | null {
  for (const m of messages) if ("ContinueAsNew" in m) return m;
  for (const m of messages) if ("StartOrchestration" in m) return m;
  return null;
}

/** An ack that commits nothing and just deletes the batch. */
export function dropBatch(executionId: number): AckPlan {
  return {
    executionId,
    delta: [],
    workerItems: [],
    orchestratorItems: [],
    metadata: {},
    cancelledActivities: [],
  };
}

/** The execution a turn writes to, with its start event (in the log when it is new). */
interface OpenedExecution {
  executionId: number;
  /** Persisted events of that execution ([] when it is new). */
  persisted: readonly Event[];
  log: EventLog;
  started: EventOf<"OrchestrationStarted">;
  name: string;
  version: string;
  completions: WorkItem[];
  /** The StartOrchestration that created the instance this turn (other starts are duplicates). */
  usedStart: StartOrchestrationItem | null;
}

type Opening =
  | { kind: "opened"; execution: OpenedExecution; handler: OrchestrationFunction }
  | { kind: "drop" }
  | { kind: "deferred" }
  | { kind: "unregistered"; name: string; version: string | null };

/**
 * Steps d–h: drop batches for finished or never-started instances, defer those of an execution
 * that continued as new until its successor's start is in the batch, choose the execution (a new
 * one after continue-as-new), resolve the handler (pinned to history's version once started) and
 * write OrchestrationStarted for a new execution. With `fallbackVersion`, an unregistered
 * orchestration still opens (to record a failure).
 */
function openExecution(
  item: OrchestrationItem,
  registry: OrchestrationRegistry,
  fallbackVersion = false,
  clock: () => number = Date.now,
): Opening {
  const start = startMessage(item.messages);
  const completions = item.messages.filter(
    (m) => !("StartOrchestration" in m) && !("ContinueAsNew" in m) && !("ActivityExecute" in m),
  );
  const history = item.history;
  const continuing = start !== null && "ContinueAsNew" in start ? start.ContinueAsNew : null;

  // d. A completed or failed execution takes nothing more (a failure recorded after a
  // continue-as-new, e.g. a poisoned successor start, ends it too).
  if (history.some(isFinalEvent)) return { kind: "drop" };
  // d′. Continued as new, but the successor's start is not visible yet: its inputs must wait.
  const continuedAsNew = history.some((e) => e.type === "OrchestrationContinuedAsNew");
  if (continuedAsNew && !continuing) return { kind: "deferred" };

  // e. Which execution runs: a new one after continue-as-new, else the current one.
  const newExecution = continuedAsNew;
  const executionId = newExecution ? item.executionId + 1 : item.executionId;
  const persisted = newExecution ? [] : history;
  const previousStart = findStarted(history);
  const currentStart = newExecution ? null : previousStart;

  // f. The name comes from history once started (a duplicate start is ignored), else the start.
  let name: string;
  let requestedVersion: string | null;
  if (currentStart) {
    name = currentStart.name;
    requestedVersion = currentStart.version; // pinned: later turns run exactly this version
  } else if (continuing) {
    name = continuing.orchestration;
    requestedVersion = continuing.version;
  } else if (start && "StartOrchestration" in start) {
    name = start.StartOrchestration.orchestration;
    requestedVersion = start.StartOrchestration.version;
  } else {
    return { kind: "drop" }; // events or cancels for an instance that never started
  }

  // g. The handler.
  const resolved =
    registry.resolve(name, requestedVersion) ??
    (fallbackVersion ? { version: requestedVersion ?? "1.0.0", handler: null } : null);
  if (!resolved) return { kind: "unregistered", name, version: requestedVersion };

  // h. A new execution starts with OrchestrationStarted at event 1.
  const lastId = persisted.length > 0 ? persisted[persisted.length - 1]!.event_id : 0;
  const log = new EventLog(item.instance, executionId, lastId + 1, clock);
  let started: EventOf<"OrchestrationStarted">;
  let usedStart: StartOrchestrationItem | null = null;
  if (currentStart) {
    started = currentStart;
  } else if (continuing) {
    const carried = continuing.carry_forward_events ?? [];
    // The new execution keeps the parent link, so a child that continues as new still reports:
    // from the item (duroxide ≥ 0.1.30 writes it), else from the ended execution's start.
    const fromItem = continuing.parent_instance !== undefined && continuing.parent_id !== undefined;
    const link = fromItem
      ? continuing
      : {
          parent_instance: previousStart?.parent_instance ?? null,
          parent_id: previousStart?.parent_id ?? null,
        };
    const linkExecution = parentExecutionId(fromItem ? continuing : (previousStart ?? {}));
    started = log.append({
      type: "OrchestrationStarted",
      name,
      version: resolved.version,
      input: continuing.input,
      parent_instance: link.parent_instance ?? null,
      parent_id: link.parent_id ?? null,
      ...(link.parent_instance && linkExecution !== null ? { parent_execution_id: linkExecution } : {}),
      ...(carried.length > 0 ? { carry_forward_events: carried } : {}),
      ...(continuing.initial_custom_status !== undefined
        ? { initial_custom_status: continuing.initial_custom_status }
        : {}),
    } as EventOf<"OrchestrationStarted">) as EventOf<"OrchestrationStarted">;
    for (const [queue, data] of carried) log.append({ type: "ExternalEventPersistent", name: queue, data });
  } else {
    const s = (start as { StartOrchestration: StartOrchestrationItem }).StartOrchestration;
    usedStart = s;
    started = log.append({
      type: "OrchestrationStarted",
      name,
      version: resolved.version,
      input: s.input,
      parent_instance: s.parent_instance,
      parent_id: s.parent_id,
      ...(parentExecutionId(s) !== null ? { parent_execution_id: parentExecutionId(s) } : {}),
    } as EventOf<"OrchestrationStarted">) as EventOf<"OrchestrationStarted">;
  }
  return {
    kind: "opened",
    execution: {
      executionId,
      persisted,
      log,
      started,
      name,
      version: resolved.version,
      completions,
      usedStart,
    },
    handler: resolved.handler as OrchestrationFunction,
  };
}

/**
 * A turn that only records a failure (poison, an ack that cannot commit): the execution's start
 * if it is new, then OrchestrationFailed, and the parent's notification.
 */
export function failTurn(
  item: OrchestrationItem,
  registry: OrchestrationRegistry,
  details: ErrorDetails,
): AckPlan {
  const opening = openExecution(item, registry, true);
  if (opening.kind === "deferred") return failContinuedAsNew(item, details);
  if (opening.kind !== "opened") {
    return {
      ...dropBatch(item.executionId),
      orchestratorItems: collisionNotices(item, null, findStarted(item.history), true),
    };
  }
  const { log, started, executionId, usedStart } = opening.execution;
  log.append({ type: "OrchestrationFailed", details });
  const orchestratorItems: WorkItem[] = collisionNotices(item, usedStart, started, false);
  if (started.parent_instance && started.parent_id !== null) {
    orchestratorItems.push({
      SubOrchFailed: {
        parent_instance: started.parent_instance,
        parent_execution_id: parentExecutionId(started) ?? 1,
        parent_id: started.parent_id,
        details,
      },
    });
  }
  return {
    executionId,
    delta: log.delta,
    workerItems: [],
    orchestratorItems,
    metadata: metadataFromDelta(log.delta),
    cancelledActivities: [],
    ...parentResolution(item.instance, started),
  };
}

/**
 * A failure (poison) for an execution that continued as new but whose successor never became
 * visible: recorded on that execution, after its OrchestrationContinuedAsNew, which ends the
 * instance, so later inputs are dropped instead of waiting forever (notes §1.9 rule 4).
 */
function failContinuedAsNew(item: OrchestrationItem, details: ErrorDetails): AckPlan {
  const last = item.history[item.history.length - 1];
  const log = new EventLog(item.instance, item.executionId, (last?.event_id ?? 0) + 1);
  log.append({ type: "OrchestrationFailed", details });
  return {
    executionId: item.executionId,
    delta: log.delta,
    workerItems: [],
    orchestratorItems: [],
    metadata: metadataFromDelta(log.delta),
    cancelledActivities: [],
  };
}

export function planTurn(item: OrchestrationItem, deps: TurnDeps): TurnDecision {
  const opening = openExecution(item, deps.registry, false, deps.clock);
  if (opening.kind === "drop") {
    const notices = collisionNotices(item, null, findStarted(item.history), true);
    return {
      kind: "ack",
      plan: { ...dropBatch(item.executionId), orchestratorItems: notices },
      outcome: "dropped",
    };
  }
  if (opening.kind === "unregistered" || opening.kind === "deferred") return opening;
  const { executionId, persisted, log, started, name, version, completions, usedStart } = opening.execution;
  const resolved = { version, handler: opening.handler };
  const policy = replayPolicyFor(started.duroxide_version);
  if (parseSemver(started.duroxide_version) === null) {
    deps.trace(
      item.instance,
      "warn",
      `execution ${executionId} has an unreadable duroxide_version '${started.duroxide_version}'; replaying it with the legacy (< 0.1.31) rules`,
    );
  }

  // i. Convert the batch, then replay (unless the turn is already decided).
  const conversion = convertMessages(persisted, completions, log);
  const all = () => [...persisted, ...log.delta];
  const cancel = all().find((e) => e.type === "OrchestrationCancelRequested");

  let result: ReplayResult | { kind: "cancelled"; reason: string };
  let engine: ReplayEngine | null = null;
  if (cancel && cancel.type === "OrchestrationCancelRequested") {
    // The code is not run on a cancel turn: it could only add schedules that are never dispatched.
    result = { kind: "cancelled", reason: cancel.reason };
  } else if (conversion.abortError) {
    result = { kind: "failed", details: conversion.abortError };
  } else {
    engine = new ReplayEngine({
      info: {
        instanceId: item.instance,
        executionId,
        orchestrationName: name,
        orchestrationVersion: resolved.version,
      },
      history: persisted,
      log,
      input: fromJson(started.input),
      kvSnapshot: item.kvSnapshot,
      initialCustomStatus: started.initial_custom_status ?? null,
      handler: resolved.handler,
      trace: (level, message) => deps.trace(item.instance, level, message),
      policy,
    });
    result = engine.run();
  }

  // j. Result → events and items.
  const workerItems: WorkItem[] = [];
  const orchestratorItems: WorkItem[] = collisionNotices(item, usedStart, started, false);
  const cancelled = new CancelledActivities(item.instance, executionId);

  if (engine) {
    dropLosers(engine, log, cancelled, orchestratorItems, item.instance, policy);
    for (const leaf of engine.newLeaves) {
      const id = leaf.eventId!;
      const action = leaf.action;
      if (action.kind === "detached") {
        orchestratorItems.push({
          StartOrchestration: {
            instance: action.instance,
            orchestration: action.name,
            input: action.input,
            version: action.version,
            parent_instance: null,
            parent_id: null,
            execution_id: 1,
          },
        });
      }
      // A finished turn dispatches only detached starts; a task dropped in the turn that created it
      // (it lost a race at once) is not dispatched at all.
      if (result.kind !== "continue" || leaf.isDropped) continue;
      if (action.kind === "activity" && !leaf.inline) {
        workerItems.push({
          ActivityExecute: {
            instance: item.instance,
            execution_id: executionId,
            id,
            name: action.name,
            input: action.input,
            ...(action.sessionId !== undefined ? { session_id: action.sessionId } : {}),
            ...(action.tag !== undefined ? { tag: action.tag } : {}),
          },
        });
      } else if (action.kind === "timer") {
        orchestratorItems.push({
          TimerFired: { instance: item.instance, execution_id: executionId, id, fire_at_ms: leaf.fireAtMs! },
        });
      } else if (action.kind === "subOrchestration") {
        const stored = log.delta.find((e) => e.event_id === id);
        const childId = childInstanceId(
          item.instance,
          stored?.type === "SubOrchestrationScheduled" ? stored.instance : "",
        );
        orchestratorItems.push({
          StartOrchestration: {
            instance: childId,
            orchestration: action.name,
            input: action.input,
            version: action.version,
            parent_instance: item.instance,
            parent_id: id,
            execution_id: 1,
            parent_execution_id: executionId,
          } as StartOrchestrationItem,
        });
      }
    }
  }

  let outcome: TurnOutcomeKind = "continue";
  if (result.kind !== "continue") {
    const reasonSuffix =
      result.kind === "completed"
        ? "completed"
        : result.kind === "continueAsNew"
          ? "continued_as_new"
          : "failed";
    const carry = result.kind === "continueAsNew" && engine ? engine.unconsumedQueueMessages() : [];
    if (carry.length > MAX_CARRY_FORWARD) {
      deps.trace(
        item.instance,
        "warn",
        `continue-as-new carries ${MAX_CARRY_FORWARD} of ${carry.length} unconsumed queue messages; the rest are dropped`,
      );
    }
    // Outstanding activities are cancelled (breadcrumbs before the terminal event).
    for (const scheduled of outstanding(all(), "ActivityScheduled")) {
      log.append(
        { type: "ActivityCancelRequested", reason: `orchestration_terminal_${reasonSuffix}` },
        scheduled.event_id,
      );
      cancelled.add(scheduled.event_id);
    }
    if (result.kind === "cancelled") {
      for (const child of outstanding(all(), "SubOrchestrationScheduled")) {
        if (child.type !== "SubOrchestrationScheduled") continue;
        log.append({ type: "SubOrchestrationCancelRequested", reason: "parent canceled" }, child.event_id);
        orchestratorItems.push({
          CancelInstance: {
            instance: childInstanceId(item.instance, child.instance),
            reason: "parent canceled",
          },
        });
      }
    }
    const details: ErrorDetails | null =
      result.kind === "failed"
        ? result.details
        : result.kind === "cancelled"
          ? { Application: { kind: { Cancelled: { reason: result.reason } }, message: "", retryable: false } }
          : null;
    if (result.kind === "completed") {
      log.append({ type: "OrchestrationCompleted", output: result.output });
      outcome = "completed";
    } else if (details) {
      log.append({ type: "OrchestrationFailed", details });
      outcome = result.kind === "cancelled" ? "cancelled" : "failed";
    } else if (result.kind === "continueAsNew") {
      log.append({ type: "OrchestrationContinuedAsNew", input: result.input });
      const status = engine?.customStatus ?? null;
      const parentLink = parentExecutionId(started);
      orchestratorItems.push({
        ContinueAsNew: {
          instance: item.instance,
          orchestration: name,
          input: result.input,
          version: result.version,
          // The successor keeps this execution's parent link (duroxide ≥ 0.1.30).
          ...(started.parent_instance && started.parent_id !== null
            ? {
                parent_instance: started.parent_instance,
                parent_id: started.parent_id,
                ...(parentLink !== null ? { parent_execution_id: parentLink } : {}),
              }
            : {}),
          carry_forward_events: carry.slice(0, MAX_CARRY_FORWARD),
          ...(status !== null ? { initial_custom_status: status } : {}),
        },
      });
      outcome = "continuedAsNew";
    }
    // The parent hears about a completion or failure (not about continue-as-new).
    if (started.parent_instance && started.parent_id !== null && outcome !== "continuedAsNew") {
      const link = {
        parent_instance: started.parent_instance,
        parent_execution_id: parentExecutionId(started) ?? 1,
        parent_id: started.parent_id,
      };
      orchestratorItems.push(
        result.kind === "completed"
          ? { SubOrchCompleted: { ...link, result: result.output } }
          : { SubOrchFailed: { ...link, details: details! } },
      );
    }
  }

  return {
    kind: "ack",
    outcome,
    plan: {
      executionId,
      delta: log.delta,
      workerItems,
      orchestratorItems,
      metadata: metadataFromDelta(log.delta),
      cancelledActivities: cancelled.list,
      ...(outcome !== "continuedAsNew" && outcome !== "continue"
        ? parentResolution(item.instance, started)
        : {}),
    },
  };
}

/** The parent lookup a child's final ack needs when its start does not record the parent's execution. */
function parentResolution(
  instance: string,
  started: EventOf<"OrchestrationStarted">,
): Pick<AckPlan, "parentToResolve"> {
  if (!started.parent_instance || started.parent_id === null || parentExecutionId(started) !== null)
    return {};
  return {
    parentToResolve: {
      parentInstance: started.parent_instance,
      parentId: started.parent_id,
      childInstance: instance,
    },
  };
}

/** Cancellation of race losers, once each (a breadcrumb in history means it was already sent). */
function dropLosers(
  engine: ReplayEngine,
  log: EventLog,
  cancelled: CancelledActivities,
  orchestratorItems: WorkItem[],
  instance: string,
  policy: ReplayPolicy,
): void {
  const events = () => log.delta;
  const breadcrumbed = new Set<number>();
  const done = new Set<number>();
  for (const e of [...engine.historyEvents(), ...events()]) {
    if (e.source_event_id === null) continue;
    if (e.type.endsWith("CancelRequested") || e.type.endsWith("Cancelled"))
      breadcrumbed.add(e.source_event_id);
    else done.add(e.source_event_id);
  }
  for (const leaf of engine.droppedLeaves()) {
    const id = leaf.eventId!;
    if (breadcrumbed.has(id) || done.has(id)) continue;
    switch (leaf.action.kind) {
      case "activity":
        if (leaf.inline) break;
        log.append({ type: "ActivityCancelRequested", reason: "dropped_future" }, id);
        cancelled.add(id);
        break;
      case "subOrchestration": {
        log.append({ type: "SubOrchestrationCancelRequested", reason: "dropped_future" }, id);
        const scheduled = [...engine.historyEvents(), ...events()].find((e) => e.event_id === id);
        if (scheduled?.type === "SubOrchestrationScheduled") {
          orchestratorItems.push({
            CancelInstance: {
              instance: childInstanceId(instance, scheduled.instance),
              reason: "parent dropped sub-orchestration future",
            },
          });
        }
        break;
      }
      // A legacy execution's subscription is cancelled when its breadcrumb is replayed, so the
      // breadcrumb is due for every one dropped before it resolved; a fixed one was cancelled at drop.
      case "wait":
        if (policy === "legacy" ? leaf.droppedPending : !leaf.outcome)
          log.append({ type: "ExternalSubscribedCancelled", reason: "dropped_future" }, id);
        break;
      case "dequeue":
        if (policy === "legacy" ? leaf.droppedPending : leaf.cancelled)
          log.append({ type: "ExternalSubscribedPersistentCancelled", reason: "dropped_future" }, id);
        break;
      default:
        break; // timers and detached starts need no cancellation
    }
  }
}

/** Schedule events of `type` with neither a completion nor a cancel breadcrumb. */
function outstanding(events: readonly Event[], type: Event["type"]): Event[] {
  const closed = new Set<number>();
  for (const e of events) if (e.source_event_id !== null) closed.add(e.source_event_id);
  return events.filter((e) => e.type === type && !closed.has(e.event_id));
}

class CancelledActivities {
  readonly list: ScheduledActivityIdentifier[] = [];
  private readonly seen = new Set<number>();
  constructor(
    private readonly instance: string,
    private readonly executionId: number,
  ) {}
  add(activityId: number): void {
    if (this.seen.has(activityId)) return;
    this.seen.add(activityId);
    this.list.push({ instance: this.instance, executionId: this.executionId, activityId });
  }
}

/** Execution metadata derived from the delta, up to its first terminal event (notes §1.8). */
export function metadataFromDelta(delta: readonly Event[]): ExecutionMetadata {
  const metadata: ExecutionMetadata = {};
  for (const e of delta) {
    if (e.type === "OrchestrationStarted") {
      metadata.orchestrationName = e.name;
      metadata.orchestrationVersion = e.version;
      metadata.parentInstanceId = e.parent_instance;
      metadata.pinnedDuroxideVersion = parseSemver(e.duroxide_version);
    } else if (e.type === "OrchestrationCompleted") {
      metadata.status = "Completed";
      metadata.output = e.output;
      break;
    } else if (e.type === "OrchestrationFailed") {
      metadata.status = "Failed";
      metadata.output = displayError(e.details);
      break;
    } else if (e.type === "OrchestrationContinuedAsNew") {
      metadata.status = "ContinuedAsNew";
      metadata.output = e.input;
      break;
    }
  }
  return metadata;
}
