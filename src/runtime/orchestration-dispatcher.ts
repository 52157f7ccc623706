/**
 * The orchestration dispatcher: `orchestrationConcurrency` slots, each looping fetch → turn → ack
 * (runtime notes §1.1–§1.2, contract §7.13). Every fetched item leaves through exactly one ack or
 * abandon; a turn's lock is renewed while it runs.
 */
import type { ErrorDetails, FetchedOrchestrationItem, Provider, WorkItem } from "../provider/types.ts";
import { callWithRetries } from "./call-with-retries.ts";
import { displayError, errorMessage } from "./errors.ts";
import { findStarted } from "./events.ts";
import { FailureStreak } from "./failure-streak.ts";
import { fetchErrorBackoffMs, isRetryable, startRenewal, unregisteredBackoffMs } from "./lock-renewal.ts";
import type { RuntimeMetrics } from "./metrics.ts";
import { type Notifier, sleep, unlessAborted } from "./notifier.ts";
import { type ResolvedOptions, renewalIntervalMs } from "./options.ts";
import { resolveParentExecution } from "./parent-link.ts";
import type { OrchestrationRegistry } from "./registry.ts";
import { ENGINE_VERSION, filterAccepts, parseSemver } from "./semver.ts";
import { type AckPlan, failTurn, planTurn, type TurnOutcomeKind } from "./turn.ts";

const ACK_RETRIES = 8;
const HISTORY_ERROR_DELAY_MS = 1000;
const PIN_MISMATCH_DELAY_MS = 1000;
const FAILED_ACK_ABANDON_MS = 50;

export interface DispatcherDeps {
  provider: Provider;
  registry: OrchestrationRegistry;
  options: ResolvedOptions;
  notifier: Notifier;
  metrics: RuntimeMetrics;
  /** Aborted when the runtime stops: wakes idle slots. */
  stopSignal: AbortSignal;
}

export class OrchestrationDispatcher {
  private readonly loops: Promise<void>[] = [];
  private readonly timerWakeups = new Set<NodeJS.Timeout>();

  constructor(private readonly deps: DispatcherDeps) {}

  start(): void {
    for (let slot = 0; slot < this.deps.options.orchestrationConcurrency; slot++)
      this.loops.push(this.loop());
  }

  /** Resolves when every slot has exited (after the stop signal). */
  async drained(): Promise<void> {
    await Promise.all(this.loops);
  }

  stopTimers(): void {
    for (const t of this.timerWakeups) clearTimeout(t);
    this.timerWakeups.clear();
  }

  private get stopping(): boolean {
    return this.deps.stopSignal.aborted;
  }

  private async loop(): Promise<void> {
    const { provider, options, notifier, stopSignal } = this.deps;
    let errors = 0;
    const failures = new FailureStreak("fetchOrchestrationItem", options.logger);
    while (!this.stopping) {
      const waiter = notifier.arm("orchestrator");
      const began = Date.now();
      let fetched: FetchedOrchestrationItem | null;
      try {
        const outcome = await unlessAborted(
          provider.fetchOrchestrationItem(
            options.orchestratorLockTimeoutMs,
            options.longPollTimeoutMs,
            options.capabilityFilter,
          ),
          stopSignal,
          (late) => {
            // Locked after shutdown began: hand it back at once, without counting the attempt.
            if (late) provider.abandonOrchestrationItem(late.lockToken, null, true).catch(() => {});
          },
        );
        if (!outcome) break;
        fetched = outcome.value;
        errors = 0;
        failures.succeeded();
      } catch (error) {
        waiter.cancel();
        this.deps.metrics.providerErrors++;
        if (this.stopping) break;
        const delay = isRetryable(error) ? fetchErrorBackoffMs(errors++) : 100;
        failures.failed(error, delay);
        await sleep(delay, stopSignal);
        continue;
      }
      if (!fetched) {
        await waiter.wait(options.minPollIntervalMs - (Date.now() - began), stopSignal);
        continue;
      }
      waiter.cancel();
      this.deps.metrics.orchDispatcherItemsFetched++;
      if (this.stopping) {
        // Fetched during shutdown: hand it back at once, without counting the attempt.
        await provider.abandonOrchestrationItem(fetched.lockToken, null, true).catch(() => {});
        break;
      }
      try {
        await this.process(fetched);
      } catch (error) {
        // A bug here must not end the slot: the item's lock expires and it is fetched again.
        options.logger.error(`turn of ${fetched.item.instance} crashed: ${errorMessage(error)}`);
      }
    }
  }

  private async process(fetched: FetchedOrchestrationItem): Promise<void> {
    const { provider, options } = this.deps;
    const { item, lockToken, attemptCount } = fetched;

    // Defence in depth: never replay an execution pinned to an engine version we do not support.
    const pin = parseSemver(findStarted(item.history)?.duroxide_version);
    if (pin && !filterAccepts(options.capabilityFilter, pin)) {
      await this.abandon(lockToken, PIN_MISMATCH_DELAY_MS, false);
      return;
    }

    const renewal = startRenewal(
      renewalIntervalMs(options.orchestratorLockTimeoutMs, options.orchestratorLockRenewalBufferMs),
      () => provider.renewOrchestrationItemLock(lockToken, options.orchestratorLockTimeoutMs),
      (error) =>
        options.logger.warn(`lost the lock on ${item.instance} during a turn: ${errorMessage(error)}`),
    );
    try {
      if (attemptCount > options.maxAttempts) {
        await this.poison(fetched);
        return;
      }
      if (item.historyError !== null) {
        options.logger.warn(
          `history of ${item.instance} cannot be read (${item.historyError}); retrying later`,
        );
        await this.abandon(lockToken, HISTORY_ERROR_DELAY_MS, false);
        return;
      }
      let decision: ReturnType<typeof planTurn>;
      try {
        decision = planTurn(item, {
          registry: this.deps.registry,
          trace: (instance, level, message) => options.logger[level](`[${instance}] ${message}`),
        });
      } catch (error) {
        // An engine bug must not wedge the instance: back off and let attempts run out into poison.
        options.logger.error(`turn of ${item.instance} crashed: ${errorMessage(error)}`);
        await this.abandon(lockToken, HISTORY_ERROR_DELAY_MS, false);
        return;
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
        return;
      }
      await this.ack(fetched, decision.plan, decision.outcome);
    } finally {
      renewal.stop();
    }
  }

  private async poison(fetched: FetchedOrchestrationItem): Promise<void> {
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
            timestamp_ms: Date.now(),
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
          message: JSON.stringify(item.messages),
        },
      };
      plan = failTurn(item, this.deps.registry, details);
    }
    this.deps.options.logger.error(`poisoned ${item.instance} after ${attemptCount} attempts`);
    await this.ack(fetched, plan, "failed");
  }

  /** Ack with retries on retryable errors; a permanent failure records an infrastructure failure. */
  private async ack(
    fetched: FetchedOrchestrationItem,
    plan: AckPlan,
    outcome: TurnOutcomeKind,
  ): Promise<void> {
    const { options } = this.deps;
    const { item, lockToken } = fetched;
    await resolveParentExecution(this.deps.provider, plan);
    const committed = await callWithRetries(
      () => this.commit(lockToken, plan),
      ACK_RETRIES,
      () => this.deps.metrics.providerErrors++,
    );
    switch (committed.kind) {
      case "ok":
        this.afterAck(item.instance, plan, outcome);
        return;
      case "exhausted":
        // Nothing is lost by replaying the turn later: it is a pure function of history + batch.
        options.logger.warn(
          `ack of ${item.instance} kept failing (${errorMessage(committed.error)}); abandoning the turn`,
        );
        await this.abandon(lockToken, FAILED_ACK_ABANDON_MS, false);
        return;
      case "unknown":
        // Recording a failure could be wrong (the lost attempt may have committed); if nothing
        // committed, the lock expires and the turn is replayed.
        options.logger.warn(
          `ack of ${item.instance} outcome unknown after a lost connection (${errorMessage(committed.error)}); leaving it to lock expiry`,
        );
        return;
      case "failed": {
        const message = errorMessage(committed.error);
        options.logger.error(`ack of ${item.instance} failed permanently: ${message}`);
        const failure = failTurn(item, this.deps.registry, {
          Infrastructure: { operation: "ack_orchestration_item", message, retryable: false },
        });
        try {
          await resolveParentExecution(this.deps.provider, failure);
          await this.commit(lockToken, failure);
          this.afterAck(item.instance, failure, "failed");
        } catch {
          await this.abandon(lockToken, FAILED_ACK_ABANDON_MS, false);
        }
        return;
      }
    }
  }

  private commit(lockToken: string, plan: AckPlan): Promise<void> {
    return this.deps.provider.ackOrchestrationItem(
      lockToken,
      plan.executionId,
      plan.delta,
      plan.workerItems,
      plan.orchestratorItems,
      plan.metadata,
      plan.cancelledActivities,
    );
  }

  private async abandon(lockToken: string, delayMs: number | null, ignoreAttempt: boolean): Promise<void> {
    try {
      await this.deps.provider.abandonOrchestrationItem(lockToken, delayMs, ignoreAttempt);
    } catch (error) {
      this.deps.options.logger.debug(`abandon failed (the lock will expire): ${errorMessage(error)}`);
    }
  }

  /** Wake whoever waits for what this ack produced, in this process. */
  private afterAck(instance: string, plan: AckPlan, outcome: TurnOutcomeKind): void {
    const { notifier, metrics } = this.deps;
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

    if (plan.workerItems.length > 0) notifier.notify("worker");
    if (plan.orchestratorItems.some((w) => !("TimerFired" in w))) notifier.notify("orchestrator");
    for (const w of plan.orchestratorItems) if ("TimerFired" in w) this.wakeAt(w);
    if (plan.metadata.status || plan.delta.some((e) => e.type === "CustomStatusUpdated")) {
      notifier.notify(`instance:${instance}`);
    }
  }

  /** A timer this runtime scheduled: wake an idle slot when it is due. */
  private wakeAt(item: WorkItem): void {
    if (!("TimerFired" in item) || this.stopping) return;
    const delay = Math.max(0, item.TimerFired.fire_at_ms - Date.now()) + 2;
    const handle = setTimeout(() => {
      this.timerWakeups.delete(handle);
      this.deps.notifier.notify("orchestrator");
    }, delay);
    handle.unref?.();
    this.timerWakeups.add(handle);
  }
}
