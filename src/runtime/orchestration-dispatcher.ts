/**
 * The orchestration dispatcher: `orchestrationConcurrency` slots, each looping fetch → turn → ack
 * (docs/replay-rules.md §1–§2, docs/store-contract.md §10). Every fetched item leaves through
 * exactly one ack or abandon; a turn's lock is renewed while it runs.
 *
 * When the provider can ack and fetch in one call (Provider.ackOrchestrationItemAndFetchNext), a
 * slot commits its turn and locks its next one in one round trip, and processes that turn next
 * (PollSlot.process returns it; an empty result sends the slot straight to its wait). The plain
 * ack is kept for everything else: an ack after the stop signal (no new leases), while the clock
 * disagrees with the database's, every retry of an ack whose first attempt failed (that attempt
 * may have locked a turn already), and the fallback acks of a failed one.
 */
import type {
  ErrorDetails,
  FetchedOrchestrationItem,
  OrchestratorFetch,
  Provider,
} from "../provider/types.ts";
import { rememberOrchestration } from "./activity-orchestration.ts";
import { callWithRetries, whileHeld } from "./call-with-retries.ts";
import type { ClockGuard } from "./clock-guard.ts";
import { displayError, errorMessage } from "./errors.ts";
import { findStarted } from "./events.ts";
import { minimalFailurePlan, storable } from "./last-resort-failure.ts";
import { turnLimitViolation } from "./limits.ts";
import { HeldLock, startRenewal, unregisteredBackoffMs } from "./lock-renewal.ts";
import type { RuntimeMetrics } from "./metrics.ts";
import { type ResolvedOptions, renewalIntervalMs } from "./options.ts";
import { resolveParentExecution } from "./parent-link.ts";
import { type FetchNext, PollLoops } from "./poll-loop.ts";
import type { OrchestrationRegistry } from "./registry.ts";
import { ENGINE_VERSION, filterAccepts, parseSemver } from "./semver.ts";
import { orchestrationLogFields } from "./telemetry/log-fields.ts";
import { type AckPlan, dropBatch, failTurn, planTurn, type TurnOutcomeKind } from "./turn.ts";

/** An ack is retried while the turn's lock is held, stopping this long before its local expiry. */
const ACK_LOCK_MARGIN_MS = 250;
const HISTORY_ERROR_DELAY_MS = 1000;
const PIN_MISMATCH_DELAY_MS = 1000;
const FAILED_ACK_ABANDON_MS = 50;
/** A poison record quotes the batch up to this many characters (a batch may be megabytes). */
const POISON_MESSAGE_CHARS = 64 * 1024;

export interface DispatcherDeps {
  provider: Provider;
  registry: OrchestrationRegistry;
  options: ResolvedOptions;
  metrics: RuntimeMetrics;
  /** Whether this runtime's clock agrees with the database's: no leases are taken otherwise. */
  clockGuard: ClockGuard;
  /** Aborted when the runtime stops: wakes idle slots. */
  stopSignal: AbortSignal;
}

export class OrchestrationDispatcher {
  private readonly slots: PollLoops;
  /** The lock each fetched item holds, as known locally (for renewals and ack retries). */
  private readonly locks = new WeakMap<FetchedOrchestrationItem, HeldLock>();

  constructor(private readonly deps: DispatcherDeps) {
    this.slots = new PollLoops(deps);
  }

  start(): void {
    const { provider, options, metrics } = this.deps;
    this.slots.start(options.orchestrationConcurrency, () => ({
      call: "fetchOrchestrationItem",
      next: () => ({ queue: "orchestrator", filter: options.capabilityFilter }),
      fetch: async (what, pollTimeoutMs) => {
        const fetched = await options.telemetry.timeFetch("orchestrator", () =>
          provider.fetchOrchestrationItem(options.orchestratorLockTimeoutMs, pollTimeoutMs, what.filter),
        );
        if (fetched) this.locks.set(fetched, new HeldLock(options.orchestratorLockTimeoutMs));
        return fetched;
      },
      handBack: (fetched) => provider.abandonOrchestrationItem(fetched.lockToken, null, true),
      counted: () => {
        metrics.orchDispatcherItemsFetched++;
      },
      process: (fetched, fetchNext) => this.process(fetched, fetchNext),
      crashed: (fetched, error) => `turn of ${fetched.item.instance} crashed: ${errorMessage(error)}`,
    }));
  }

  /** Resolves when every slot has exited (after the stop signal). */
  async drained(): Promise<void> {
    await this.slots.drained();
  }

  /** One turn; resolves with the next turn when its ack also locked one (see ackAndFetch). */
  private async process(
    fetched: FetchedOrchestrationItem,
    fetchNext: FetchNext<FetchedOrchestrationItem, OrchestratorFetch>,
  ): Promise<FetchedOrchestrationItem | null> {
    const { provider, options } = this.deps;
    const { item, lockToken, attemptCount } = fetched;

    // Defence in depth: never replay an execution pinned to an engine version we do not support.
    const pin = parseSemver(findStarted(item.history)?.duroxide_version);
    if (pin && !filterAccepts(options.capabilityFilter, pin)) {
      await this.abandon(lockToken, PIN_MISMATCH_DELAY_MS, false);
      return null;
    }

    const turn = options.telemetry.beginTurn(fetched);
    const renewal = startRenewal(
      renewalIntervalMs(options.orchestratorLockTimeoutMs, options.orchestratorLockRenewalBufferMs),
      () => provider.renewOrchestrationItemLock(lockToken, options.orchestratorLockTimeoutMs),
      (error) => {
        this.deps.clockGuard.recheck(); // a lost lock may mean our clock moved
        options.logger.warn(
          `lost the lock on ${item.instance} during a turn: ${errorMessage(error)}`,
          orchestrationLogFields(item),
        );
      },
      { lock: this.locks.get(fetched), mayRenew: () => this.deps.clockGuard.agrees },
    );
    try {
      if (attemptCount > options.maxAttempts) {
        turn.settle("poisoned");
        return await this.poison(fetched, fetchNext);
      }
      if (item.historyError !== null) {
        options.logger.warn(
          `history of ${item.instance} cannot be read (${item.historyError}); retrying later`,
        );
        await this.abandon(lockToken, HISTORY_ERROR_DELAY_MS, false);
        return null;
      }
      let decision: ReturnType<typeof planTurn>;
      try {
        decision = planTurn(item, {
          registry: this.deps.registry,
          clock: options.clock,
          trace: (instance, level, message) =>
            options.logger[level](`[${instance}] ${message}`, orchestrationLogFields(item)),
        });
      } catch (error) {
        // An engine bug must not wedge the instance: back off and let attempts run out into poison.
        options.logger.error(
          `turn of ${item.instance} crashed: ${errorMessage(error)}`,
          orchestrationLogFields(item),
        );
        await this.abandon(lockToken, HISTORY_ERROR_DELAY_MS, false);
        return null;
      }
      if (decision.kind === "deferred") {
        // The admission window (docs/replay-rules.md §8): the execution continued as new and its successor's
        // start is not visible yet. Acking would lose these inputs; hand the whole batch back,
        // counted, so a start that never appears ends in poison instead of waiting forever.
        const delay = unregisteredBackoffMs(
          attemptCount,
          options.unregisteredBackoffMs,
          options.unregisteredBackoffMaxMs,
        );
        options.logger.debug(
          `${item.instance} continued as new but its successor's start is not visible yet; ` +
            `${item.messages.length} input(s) retried in ${delay}ms (attempt ${attemptCount}/${options.maxAttempts})`,
        );
        await this.abandon(lockToken, delay, false);
        return null;
      }
      if (decision.kind === "unregistered") {
        const delay = unregisteredBackoffMs(
          attemptCount,
          options.unregisteredBackoffMs,
          options.unregisteredBackoffMaxMs,
        );
        options.logger.warn(
          `orchestration '${decision.name}'${decision.version ? `@${decision.version}` : ""} is not registered here; ` +
            `${item.instance} retried in ${delay}ms (attempt ${attemptCount}/${options.maxAttempts})`,
        );
        await this.abandon(lockToken, delay, false);
        return null;
      }
      // Nothing over a limit is ever written: the turn fails with the limit's error instead (a
      // retry would only break the same limit again).
      const violation = turnLimitViolation(item, decision.plan, options.limits);
      if (violation !== null) {
        options.logger.warn(
          `turn of ${item.instance} breaks a limit: ${violation}`,
          orchestrationLogFields(item),
        );
        const failure = failTurn(item, this.deps.registry, {
          Application: { kind: "OrchestrationFailed", message: violation, retryable: false },
        });
        turn.planned(failure, "failed");
        return await this.ack(fetched, failure, "failed", false, fetchNext);
      }
      turn.planned(decision.plan, decision.outcome);
      return await this.ack(fetched, decision.plan, decision.outcome, false, fetchNext);
    } finally {
      renewal.stop();
      turn.end();
    }
  }

  private async poison(
    fetched: FetchedOrchestrationItem,
    fetchNext: FetchNext<FetchedOrchestrationItem, OrchestratorFetch>,
  ): Promise<FetchedOrchestrationItem | null> {
    const { item, attemptCount } = fetched;
    const { maxAttempts } = this.deps.options;
    this.deps.metrics.orchPoison++;
    let plan: AckPlan;
    if (item.historyError !== null) {
      // The real next event id is unknowable: duroxide's sentinel id 99999.
      const details: ErrorDetails = {
        Poison: {
          attempt_count: attemptCount,
          max_attempts: maxAttempts,
          message_type: {
            FailedDeserialization: {
              instance: item.instance,
              execution_id: item.executionId,
              error: item.historyError,
            },
          },
          message: item.historyError,
        },
      };
      plan = {
        executionId: item.executionId,
        delta: [
          {
            event_id: 99_999,
            source_event_id: null,
            instance_id: item.instance,
            execution_id: item.executionId,
            timestamp_ms: this.deps.options.clock(),
            duroxide_version: ENGINE_VERSION,
            type: "OrchestrationFailed",
            details,
          },
        ],
        workerItems: [],
        orchestratorItems: [],
        metadata: {
          status: "Failed",
          output: displayError(details),
          orchestrationName: item.orchestrationName,
          orchestrationVersion: item.version,
        },
        cancelledActivities: [],
      };
    } else {
      const details: ErrorDetails = {
        Poison: {
          attempt_count: attemptCount,
          max_attempts: maxAttempts,
          message_type: { Orchestration: { instance: item.instance, execution_id: item.executionId } },
          message: storable(JSON.stringify(item.messages), POISON_MESSAGE_CHARS),
        },
      };
      plan = failTurn(item, this.deps.registry, details);
    }
    this.deps.options.logger.error(
      `poisoned ${item.instance} after ${attemptCount} attempts`,
      orchestrationLogFields(item),
    );
    return await this.ack(fetched, plan, "failed", true, fetchNext);
  }

  /**
   * The poison record was refused for good (its data cannot be stored): end the instance with a
   * minimal record, else drop the batch, so it is never fetched again (last-resort-failure.ts).
   */
  private async endAnyway(fetched: FetchedOrchestrationItem, reason: string): Promise<void> {
    const { options } = this.deps;
    const { item, lockToken, attemptCount } = fetched;
    try {
      const minimal = minimalFailurePlan(item, attemptCount, options.maxAttempts, reason);
      await this.commit(lockToken, minimal);
      options.logger.error(`${item.instance} ended with a minimal failure record: ${reason}`);
      this.afterAck(minimal, "failed");
      return;
    } catch (error) {
      reason = `${reason}; minimal record refused too: ${errorMessage(error)}`;
    }
    try {
      await this.commit(lockToken, dropBatch(item.executionId));
      options.logger.error(
        `dropped the poisoned batch of ${item.instance} (${item.messages.length} messages, nothing could be stored): ${reason}`,
      );
    } catch (error) {
      options.logger.error(`could not end ${item.instance}: ${errorMessage(error)}`);
      await this.abandon(lockToken, FAILED_ACK_ABANDON_MS, false);
    }
  }

  /**
   * Ack with retries on retryable errors; a permanent failure records an infrastructure failure.
   * With `fetchNext`, the first attempt also fetches the next turn when it may (ackAndFetch):
   * resolves with that turn, null otherwise.
   */
  private async ack(
    fetched: FetchedOrchestrationItem,
    plan: AckPlan,
    outcome: TurnOutcomeKind,
    /** Poison: if no failure record can be stored, end the instance anyway (endAnyway). */
    lastResort = false,
    fetchNext?: FetchNext<FetchedOrchestrationItem, OrchestratorFetch>,
  ): Promise<FetchedOrchestrationItem | null> {
    const { options } = this.deps;
    const { item, lockToken } = fetched;
    await resolveParentExecution(this.deps.provider, plan);
    if (plan.workerItems.length > 0) {
      // Before the ack makes the activities fetchable: their ActivityContext names the orchestration.
      rememberOrchestration(this.deps.provider, item.instance, plan.executionId, {
        name: plan.metadata.orchestrationName ?? item.orchestrationName,
        version: plan.metadata.orchestrationVersion ?? item.version,
      });
    }
    // Only the first attempt may fetch: a retried one cannot know whether the lost attempt had
    // already locked a turn, and must not lock a second.
    let firstAttempt = true;
    const committed = await callWithRetries(
      async () => {
        const mayFetch = firstAttempt && fetchNext !== undefined;
        firstAttempt = false;
        if (mayFetch) {
          const next = await this.ackAndFetch(lockToken, plan, fetchNext);
          if (next !== undefined) return next;
        }
        await this.commit(lockToken, plan);
        return null;
      },
      // For as long as the lock is held: giving up earlier only replays the turn later.
      whileHeld(
        this.locks.get(fetched) ?? new HeldLock(options.orchestratorLockTimeoutMs),
        ACK_LOCK_MARGIN_MS,
      ),
      () => this.deps.metrics.providerErrors++,
    );
    switch (committed.kind) {
      case "ok":
        this.afterAck(plan, outcome);
        return committed.value;
      case "exhausted":
        // Nothing is lost by replaying the turn later: it is a pure function of history + batch.
        options.logger.warn(
          `ack of ${item.instance} kept failing (${errorMessage(committed.error)}); abandoning the turn`,
        );
        await this.abandon(lockToken, FAILED_ACK_ABANDON_MS, false);
        return null;
      case "unknown":
        // Recording a failure could be wrong (the lost attempt may have committed); if nothing
        // committed, the lock expires and the turn is replayed.
        options.logger.warn(
          `ack of ${item.instance} outcome unknown after a lost connection (${errorMessage(committed.error)}); leaving it to lock expiry`,
        );
        return null;
      case "failed": {
        const message = errorMessage(committed.error);
        options.logger.error(`ack of ${item.instance} failed permanently: ${message}`);
        const failure = failTurn(item, this.deps.registry, {
          Infrastructure: { operation: "ack_orchestration_item", message, retryable: false },
        });
        try {
          await resolveParentExecution(this.deps.provider, failure);
          await this.commit(lockToken, failure);
          this.afterAck(failure, "failed");
        } catch (error) {
          if (lastResort && !isLockLost(error)) await this.endAnyway(fetched, message);
          else await this.abandon(lockToken, FAILED_ACK_ABANDON_MS, false);
        }
        return null;
      }
    }
  }

  /**
   * Commit the turn and fetch the next one in one call of the provider, through the slot's waiter
   * (fetchNext). Undefined when this ack may not fetch: the provider cannot, the runtime is
   * stopping (no new leases), or this runtime's clock disagrees with the database's; the caller
   * then acks alone.
   */
  private async ackAndFetch(
    lockToken: string,
    plan: AckPlan,
    fetchNext: FetchNext<FetchedOrchestrationItem, OrchestratorFetch>,
  ): Promise<FetchedOrchestrationItem | null | undefined> {
    const { provider, options, stopSignal, clockGuard } = this.deps;
    if (!provider.ackOrchestrationItemAndFetchNext || stopSignal.aborted || !clockGuard.agrees)
      return undefined;
    const ackAndFetchNext = provider.ackOrchestrationItemAndFetchNext.bind(provider);
    return await fetchNext(async (what) => {
      const sentAt = performance.now(); // the next turn's lock runs from before the call
      const next = await options.telemetry.timeAck("orchestrator", () =>
        ackAndFetchNext(...ackArguments(lockToken, plan), options.orchestratorLockTimeoutMs, what.filter),
      );
      if (next) this.locks.set(next, new HeldLock(options.orchestratorLockTimeoutMs, sentAt));
      return next;
    });
  }

  private commit(lockToken: string, plan: AckPlan): Promise<void> {
    return this.deps.options.telemetry.timeAck("orchestrator", () =>
      this.deps.provider.ackOrchestrationItem(...ackArguments(lockToken, plan)),
    );
  }

  private async abandon(lockToken: string, delayMs: number | null, ignoreAttempt: boolean): Promise<void> {
    try {
      await this.deps.provider.abandonOrchestrationItem(lockToken, delayMs, ignoreAttempt);
    } catch (error) {
      this.deps.options.logger.debug(`abandon failed (the lock will expire): ${errorMessage(error)}`);
    }
  }

  /**
   * Count what this ack did. Waking whoever waits for what it produced is the provider's business
   * (Provider.wakeups).
   */
  private afterAck(plan: AckPlan, outcome: TurnOutcomeKind): void {
    const { metrics } = this.deps;
    this.deps.options.telemetry.turnCommitted(plan, outcome);
    if (plan.delta.some((e) => e.type === "OrchestrationStarted")) metrics.orchStarts++;
    if (outcome === "completed") metrics.orchCompletions++;
    if (outcome === "failed" || outcome === "cancelled") {
      metrics.orchFailures++;
      const failed = plan.delta.find((e) => e.type === "OrchestrationFailed");
      if (failed?.type === "OrchestrationFailed") {
        const d = failed.details;
        if ("Application" in d) metrics.orchApplicationErrors++;
        else if ("Infrastructure" in d) metrics.orchInfrastructureErrors++;
        else if ("Configuration" in d) metrics.orchConfigurationErrors++;
      }
    }
    if (outcome === "continuedAsNew") metrics.orchContinueAsNew++;
    metrics.suborchestrationCalls += plan.delta.filter((e) => e.type === "SubOrchestrationScheduled").length;
  }
}

/** The store refused an ack because this fetch no longer holds the lock (nothing to end here). */
function isLockLost(error: unknown): boolean {
  return /Invalid lock token/.test(errorMessage(error));
}

/** The provider's ack arguments for a planned turn: the same for the plain and the combined ack. */
function ackArguments(lockToken: string, plan: AckPlan) {
  return [
    lockToken,
    plan.executionId,
    plan.delta,
    plan.workerItems,
    plan.orchestratorItems,
    plan.metadata,
    plan.cancelledActivities,
  ] as const;
}
