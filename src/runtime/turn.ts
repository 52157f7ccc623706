/**
 * One orchestration turn, from a fetched item to what the ack must commit (the steps of
 * docs/replay-rules.md §2 the dispatcher leaves to it): pick the execution to run, resolve the
 * handler, convert the batch, replay, and turn the result into the history delta, worker items,
 * orchestrator items, metadata and activity cancellations. Pure apart from reading the clock: the
 * dispatcher does the I/O.
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
import { CancelledActivities } from "./commands/activity.ts";
import type { ExecutionEnding, TurnOutput } from "./commands/command.ts";
import { continueExecution, openSuccessor } from "./commands/continue-as-new.ts";
import { commandFor, scheduleCommands } from "./commands/registry.ts";
import { parentNotification } from "./commands/sub-orchestration.ts";
import { collisionNotices } from "./duplicate-starts.ts";
import { displayError } from "./errors.ts";
import { EventLog, findStarted, isFinalEvent, parentExecutionId } from "./events.ts";
import { fromJson } from "./json.ts";
import { convertMessages } from "./message-conversion.ts";
import type { LogLevel } from "./orchestration-context.ts";
import type { OrchestrationRegistry } from "./registry.ts";
import { type OrchestrationFunction, ReplayEngine, type ReplayResult } from "./replay-engine.ts";
import { parseSemver, type ReplayPolicy, replayPolicyFor } from "./semver.ts";

export { MAX_CARRY_FORWARD } from "./commands/continue-as-new.ts";

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
   * counted unregistered backoff (docs/replay-rules.md §8).
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
    started = openSuccessor(log, continuing, previousStart, { name, version: resolved.version });
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
  const orchestratorItems: WorkItem[] = [
    ...collisionNotices(item, usedStart, started, false),
    ...parentNotification(started, { details }),
  ];
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
 * instance, so later inputs are dropped instead of waiting forever (docs/replay-rules.md §8).
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

/**
 * Steps d–l for one fetched batch: open the execution, replay it, commit what its commands ask
 * for, and end it if the code finished.
 */
export function planTurn(item: OrchestrationItem, deps: TurnDeps): TurnDecision {
  const opening = openExecution(item, deps.registry, false, deps.clock);
  if (opening.kind === "drop") return { kind: "ack", plan: dropWithNotices(item), outcome: "dropped" };
  if (opening.kind === "unregistered" || opening.kind === "deferred") return opening;
  const execution = opening.execution;
  const policy = replayPolicyOf(item.instance, execution, deps);
  const { result, engine } = runExecution(item, execution, opening.handler, policy, deps);
  const turn = turnOutput(item, execution, policy);
  if (engine) commitCommands(engine, turn, result.kind === "continue");
  const outcome =
    result.kind === "continue" ? "continue" : endExecution(turn, execution, result, engine, deps);
  return { kind: "ack", outcome, plan: ackPlan(turn, item.instance, execution.started, outcome) };
}

/** A batch for a finished or never-started instance: deleted, duplicate starts answered. */
function dropWithNotices(item: OrchestrationItem): AckPlan {
  const notices = collisionNotices(item, null, findStarted(item.history), true);
  return { ...dropBatch(item.executionId), orchestratorItems: notices };
}

/** The replay rules of the execution's stamp (an unreadable stamp replays as legacy, with a warning). */
function replayPolicyOf(instance: string, execution: OpenedExecution, deps: TurnDeps): ReplayPolicy {
  const stamp = execution.started.duroxide_version;
  if (parseSemver(stamp) === null) {
    deps.trace(
      instance,
      "warn",
      `execution ${execution.executionId} has an unreadable duroxide_version '${stamp}'; replaying it with the legacy (< 0.1.31) rules`,
    );
  }
  return replayPolicyFor(stamp);
}

type ExecutionResult = ReplayResult | { kind: "cancelled"; reason: string };

/**
 * Step i: convert the batch, then replay — unless the turn is already decided: the code is not run
 * on a cancel turn (it could only add schedules that are never dispatched), nor when a message
 * aborts the turn.
 */
function runExecution(
  item: OrchestrationItem,
  execution: OpenedExecution,
  handler: OrchestrationFunction,
  policy: ReplayPolicy,
  deps: TurnDeps,
): { result: ExecutionResult; engine: ReplayEngine | null } {
  const { executionId, persisted, log, started } = execution;
  const conversion = convertMessages(persisted, execution.completions, log);
  const cancel = [...persisted, ...log.delta].find((e) => e.type === "OrchestrationCancelRequested");
  if (cancel?.type === "OrchestrationCancelRequested")
    return { result: { kind: "cancelled", reason: cancel.reason }, engine: null };
  if (conversion.abortError)
    return { result: { kind: "failed", details: conversion.abortError }, engine: null };
  const engine = new ReplayEngine({
    info: {
      instanceId: item.instance,
      executionId,
      orchestrationName: execution.name,
      orchestrationVersion: execution.version,
    },
    history: persisted,
    log,
    input: fromJson(started.input),
    kvSnapshot: item.kvSnapshot,
    initialCustomStatus: started.initial_custom_status ?? null,
    handler,
    trace: (level, message) => deps.trace(item.instance, level, message),
    policy,
  });
  return { result: engine.run(), engine };
}

/** What the ack will carry, as the command hooks fill it; duplicate starts are answered first. */
function turnOutput(item: OrchestrationItem, execution: OpenedExecution, policy: ReplayPolicy): TurnOutput {
  const { executionId, persisted, log, started, usedStart } = execution;
  return {
    instance: item.instance,
    executionId,
    orchestration: { name: started.name, version: started.version },
    policy,
    log,
    workerItems: [],
    orchestratorItems: collisionNotices(item, usedStart, started, false),
    cancelledActivities: new CancelledActivities(item.instance, executionId),
    events: () => [...persisted, ...log.delta],
  };
}

/**
 * Step j for the code's commands: race losers are cancelled (once each: a completion or a
 * breadcrumb in history means there is nothing left to cancel), then each schedule created this
 * turn sends its work items — only while the execution goes on, and not for one that lost a race
 * in the turn that created it (its command decides: a detached start is sent regardless).
 */
function commitCommands(engine: ReplayEngine, turn: TurnOutput, continuing: boolean): void {
  const closed = new Set<number>();
  for (const e of turn.events()) if (e.source_event_id !== null) closed.add(e.source_event_id);
  for (const leaf of engine.droppedLeaves()) {
    if (!closed.has(leaf.eventId!)) commandFor(leaf.action).cancelDropped?.(leaf, turn);
  }
  for (const created of engine.created) {
    commandFor(created.leaf.action).dispatch?.(created, turn, continuing && !created.leaf.isDropped);
  }
}

/**
 * Steps j–l for a finished execution: every command cancels what it still has outstanding
 * (breadcrumbs before the terminal event), then the terminal event, and the parent hears about a
 * completion or failure (a continue-as-new hands the link to the successor instead).
 */
function endExecution(
  turn: TurnOutput,
  execution: OpenedExecution,
  result: Exclude<ExecutionResult, { kind: "continue" }>,
  engine: ReplayEngine | null,
  deps: TurnDeps,
): TurnOutcomeKind {
  const ending: ExecutionEnding =
    result.kind === "continueAsNew"
      ? "continued_as_new"
      : result.kind === "cancelled"
        ? "cancelled"
        : result.kind;
  const unread = result.kind === "continueAsNew" && engine ? engine.unconsumedQueueMessages() : [];
  for (const command of scheduleCommands()) command.onExecutionEnd?.(turn, ending);
  const { started, name } = execution;
  switch (result.kind) {
    case "completed":
      turn.log.append({ type: "OrchestrationCompleted", output: result.output });
      turn.orchestratorItems.push(...parentNotification(started, { output: result.output }));
      return "completed";
    case "continueAsNew":
      continueExecution(
        turn,
        name,
        started,
        { ...result, unread, customStatus: engine?.customStatus ?? null },
        (message) => deps.trace(turn.instance, "warn", message),
      );
      return "continuedAsNew";
    case "failed":
    case "cancelled": {
      const details: ErrorDetails =
        result.kind === "failed"
          ? result.details
          : {
              Application: { kind: { Cancelled: { reason: result.reason } }, message: "", retryable: false },
            };
      turn.log.append({ type: "OrchestrationFailed", details });
      turn.orchestratorItems.push(...parentNotification(started, { details }));
      return result.kind;
    }
  }
}

function ackPlan(
  turn: TurnOutput,
  instance: string,
  started: EventOf<"OrchestrationStarted">,
  outcome: TurnOutcomeKind,
): AckPlan {
  return {
    executionId: turn.executionId,
    delta: turn.log.delta,
    workerItems: turn.workerItems,
    orchestratorItems: turn.orchestratorItems,
    metadata: metadataFromDelta(turn.log.delta),
    cancelledActivities: turn.cancelledActivities.list,
    ...(outcome !== "continuedAsNew" && outcome !== "continue" ? parentResolution(instance, started) : {}),
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

/** Execution metadata derived from the delta, up to its first terminal event (docs/replay-rules.md §7). */
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
