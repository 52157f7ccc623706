/**
 * The worker dispatcher: `workerConcurrency` slots, each looping fetch → run the activity → ack
 * its completion (docs/replay-rules.md §12). While an activity runs its lock is renewed; a renewal that
 * fails for good means the orchestration no longer wants the result (or another worker took the
 * item over), which aborts the activity's signal.
 */
import type {
  ActivityExecuteItem,
  FetchedWorkItem,
  Provider,
  WorkerFetch,
  WorkItem,
} from "../provider/types.ts";
import { sleep } from "./abortable.ts";
import { ActivityContext } from "./activity-context.ts";
import { orchestrationOf } from "./activity-orchestration.ts";
import { callWithRetries, whileHeld } from "./call-with-retries.ts";
import type { ClockGuard } from "./clock-guard.ts";
import { errorMessage } from "./errors.ts";
import { fromJson, toJson } from "./json.ts";
import { HeldLock, startRenewal, unregisteredBackoffMs } from "./lock-renewal.ts";
import type { RuntimeMetrics } from "./metrics.ts";
import { type ResolvedOptions, renewalIntervalMs } from "./options.ts";
import { PollLoops } from "./poll-loop.ts";
import type { ActivityRegistry } from "./registry.ts";
import type { SessionTracker } from "./sessions.ts";
import { activityLogFields } from "./telemetry/log-fields.ts";

const OVER_CAPACITY_DELAY_MS = 100;
const FAILED_ACK_ABANDON_MS = 100;
/**
 * An ack is retried while the activity's lock is held, stopping this long before its expiry as
 * known locally (which may be late by the fetch's round trip).
 */
const ACK_LOCK_MARGIN_MS = 500;

export interface WorkerDeps {
  provider: Provider;
  registry: ActivityRegistry;
  options: ResolvedOptions;
  metrics: RuntimeMetrics;
  sessions: SessionTracker;
  nodeId: string;
  /** Whether this runtime's clock agrees with the database's: no leases are taken otherwise. */
  clockGuard: ClockGuard;
  /** Aborted when the runtime stops: no more fetches. */
  stopSignal: AbortSignal;
  /** Aborted when shutdown runs out of time: running activities are handed back. */
  forceSignal: AbortSignal;
}

export class WorkerDispatcher {
  private readonly slots: PollLoops;

  constructor(private readonly deps: WorkerDeps) {
    this.slots = new PollLoops(deps);
  }

  /** Session owner ids of the slots (one shared id when workerNodeId is set). */
  ownerIds(): string[] {
    const n = this.deps.options.workerConcurrency;
    if (this.deps.options.workerNodeId) return n > 0 ? [this.deps.options.workerNodeId] : [];
    return Array.from({ length: n }, (_, slot) => this.workerId(slot));
  }

  start(): void {
    const { provider, options, metrics, sessions } = this.deps;
    this.slots.start(options.workerConcurrency, (slot) => {
      const workerId = this.workerId(slot);
      const ownerId = options.workerNodeId ?? workerId;
      return {
        call: "fetchWorkItem",
        next: () => ({
          queue: "worker",
          // At the session cap a slot takes only items outside sessions (or of sessions it holds).
          session:
            sessions.distinct >= options.maxSessionsPerRuntime
              ? null
              : { ownerId, lockTimeoutMs: options.sessionLockTimeoutMs },
          tagFilter: options.workerTagFilter,
        }),
        fetch: async (what: WorkerFetch, pollTimeoutMs: number) => {
          const fetched = await options.telemetry.timeFetch("worker", () =>
            provider.fetchWorkItem(options.workerLockTimeoutMs, pollTimeoutMs, what.session, what.tagFilter),
          );
          return fetched && { fetched, lock: new HeldLock(options.workerLockTimeoutMs) };
        },
        handBack: ({ fetched }) => provider.abandonWorkItem(fetched.lockToken, null, true),
        counted: () => {
          metrics.workerDispatcherItemsFetched++;
        },
        process: async ({ fetched, lock }) => {
          await this.execute(fetched, workerId, lock);
          return null;
        },
        crashed: ({ fetched }, error) =>
          `work item ${fetched.lockToken} crashed its worker slot: ${errorMessage(error)}`,
      };
    });
  }

  async drained(): Promise<void> {
    await this.slots.drained();
  }

  private workerId(slot: number): string {
    return `work-${slot}-${this.deps.nodeId}`;
  }

  private async execute(fetched: FetchedWorkItem, workerId: string, lock: HeldLock): Promise<void> {
    const { provider, options, sessions } = this.deps;
    const { item, lockToken } = fetched;
    if (!("ActivityExecute" in item)) {
      options.logger.error(`worker queue held a non-activity item; dropping it: ${JSON.stringify(item)}`);
      await provider.ackWorkItem(lockToken, null).catch(() => {});
      return;
    }
    const a = item.ActivityExecute;
    const sessionId = a.session_id ?? null;
    if (sessionId !== null && !sessions.acquire(sessionId, options.maxSessionsPerRuntime)) {
      // Two slots raced past the cap: hand it back without counting the attempt.
      sessions.release(sessionId);
      await provider.abandonWorkItem(lockToken, OVER_CAPACITY_DELAY_MS, true).catch(() => {});
      return;
    }
    try {
      await this.run(a, fetched, workerId, lock);
    } finally {
      if (sessionId !== null) sessions.release(sessionId);
    }
  }

  private async run(
    a: ActivityExecuteItem,
    fetched: FetchedWorkItem,
    workerId: string,
    lock: HeldLock,
  ): Promise<void> {
    const { provider, options, metrics } = this.deps;
    const { lockToken, attemptCount } = fetched;
    const identity = { instance: a.instance, execution_id: a.execution_id, id: a.id };

    if (attemptCount > options.maxAttempts) {
      metrics.activityPoison++;
      options.telemetry.activityPoisoned();
      options.logger.error(
        `poisoned activity ${a.name}#${a.id} of ${a.instance} after ${attemptCount} attempts`,
        activityLogFields(a),
      );
      await this.complete(lockToken, lock, {
        ActivityFailed: {
          ...identity,
          details: {
            Poison: {
              attempt_count: attemptCount,
              max_attempts: options.maxAttempts,
              message_type: {
                Activity: {
                  instance: a.instance,
                  execution_id: a.execution_id,
                  activity_name: a.name,
                  activity_id: a.id,
                },
              },
              message: JSON.stringify(fetched.item),
            },
          },
        },
      });
      return;
    }

    const fn = this.deps.registry.get(a.name);
    if (!fn) {
      const delay = unregisteredBackoffMs(
        attemptCount,
        options.unregisteredBackoffMs,
        options.unregisteredBackoffMaxMs,
      );
      options.logger.warn(
        `activity '${a.name}' is not registered here; ${a.instance} retries it in ${delay}ms (attempt ${attemptCount}/${options.maxAttempts})`,
        activityLogFields(a),
      );
      await provider.abandonWorkItem(lockToken, delay, false).catch(() => {});
      return;
    }

    const controller = new AbortController();
    const { clockGuard } = this.deps;
    const renewal = startRenewal(
      renewalIntervalMs(options.workerLockTimeoutMs, options.workerLockRenewalBufferMs),
      () => provider.renewWorkItemLock(lockToken, options.workerLockTimeoutMs),
      () => {
        clockGuard.recheck(); // a lost lock may mean our clock moved
        controller.abort(new Error("activity cancelled: its work item lock is gone"));
      },
      { lock, mayRenew: () => clockGuard.agrees },
    );
    const orchestration = await orchestrationOf(provider, a.instance, a.execution_id);
    const ctx = new ActivityContext(
      {
        instanceId: a.instance,
        executionId: a.execution_id,
        orchestrationName: orchestration.name,
        orchestrationVersion: orchestration.version,
        activityId: a.id,
        activityName: a.name,
        workerId,
        sessionId: a.session_id ?? null,
        tag: a.tag ?? null,
      },
      controller,
      provider,
      options.logger,
    );

    type Settled = { kind: "ok"; value: unknown } | { kind: "error"; error: unknown };
    const activity = options.telemetry.beginActivity(a, attemptCount, workerId);
    const settled: Promise<Settled> = activity
      .run(async () => fn(ctx, fromJson(a.input)))
      .then(
        (value) => ({ kind: "ok", value }),
        (error: unknown) => ({ kind: "error", error }),
      );
    const force = this.deps.forceSignal;
    let onForce = () => {};
    const interrupted = new Promise<"cancelled" | "forced">((resolve) => {
      controller.signal.addEventListener("abort", () => resolve("cancelled"), { once: true });
      onForce = () => resolve("forced");
      force.addEventListener("abort", onForce, { once: true });
      if (force.aborted) resolve("forced");
    });

    try {
      const first = await Promise.race([settled, interrupted]);
      activity.settled(first);
      if (first === "forced") {
        // Shutdown ran out of time: give the item back at once, without counting the attempt.
        controller.abort(new Error("runtime shutting down"));
        await provider.abandonWorkItem(lockToken, null, true).catch(() => {});
        return;
      }
      if (first === "cancelled") {
        await Promise.race([
          settled,
          sleep(options.activityCancellationGracePeriodMs, this.deps.forceSignal),
        ]);
        await provider.ackWorkItem(lockToken, null).catch(() => {}); // normally fails: the row is gone
        return;
      }
      let completion: WorkItem;
      if (first.kind === "ok") {
        try {
          completion = {
            ActivityCompleted: {
              ...identity,
              result: toJson(first.value, `result of activity '${a.name}'`, options.limits),
            },
          };
          metrics.activitySuccess++;
        } catch (error) {
          activity.settled({ kind: "error", error });
          completion = this.failure(identity, errorMessage(error));
        }
      } else {
        completion = this.failure(identity, errorMessage(first.error));
      }
      await this.complete(lockToken, lock, completion);
    } finally {
      renewal.stop();
      force.removeEventListener("abort", onForce);
      activity.end();
    }
  }

  private failure(
    identity: { instance: string; execution_id: number; id: number },
    message: string,
  ): WorkItem {
    this.deps.metrics.activityAppErrors++;
    return {
      ActivityFailed: {
        ...identity,
        details: { Application: { kind: "ActivityFailed", message, retryable: false } },
      },
    };
  }

  /**
   * Ack the completion, retrying retryable errors with backoff for as long as the lock is held:
   * re-running an activity because the database was away for a while costs more than waiting.
   * Once an attempt has failed retryably, a later permanent failure (the token is no longer valid)
   * may mean the earlier attempt committed after all; either way the lock is gone, and if nothing
   * committed the item comes back when it expires. A clock that disagrees with the database's
   * would judge the lock wrongly: the ack waits for it to agree while the lock lasts.
   */
  private async complete(lockToken: string, lock: HeldLock, completion: WorkItem): Promise<void> {
    const { provider, options, metrics, clockGuard, forceSignal } = this.deps;
    await clockGuard.waitUntilAgreed(forceSignal, lock.remainingMs() - ACK_LOCK_MARGIN_MS);
    const outcome = await callWithRetries(
      () => options.telemetry.timeAck("worker", () => provider.ackWorkItem(lockToken, completion)),
      // Until the lock runs out, or shutdown runs out of time (the item then returns on expiry).
      (delay) => !forceSignal.aborted && whileHeld(lock, ACK_LOCK_MARGIN_MS)(delay),
      () => metrics.providerErrors++,
    );
    if (outcome.kind !== "ok" && outcome.kind !== "exhausted") clockGuard.recheck();
    // A committed completion wakes an orchestration slot through the provider's wake-ups.
    if (outcome.kind === "ok") return;
    if (outcome.kind === "unknown") {
      options.logger.warn(
        `ackWorkItem outcome unknown after a lost connection (${errorMessage(outcome.error)}); the item returns if it did not commit`,
      );
    } else {
      options.logger.warn(`ackWorkItem failed (${errorMessage(outcome.error)}); abandoning the item`);
      await provider.abandonWorkItem(lockToken, FAILED_ACK_ABANDON_MS, false).catch(() => {});
    }
  }
}
