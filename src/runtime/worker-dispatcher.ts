/**
 * The worker dispatcher: `workerConcurrency` slots, each looping fetch → run the activity → ack
 * its completion (docs/replay-rules.md §12). While an activity runs its lock is renewed; a renewal that
 * fails for good means the orchestration no longer wants the result (or another worker took the
 * item over), which aborts the activity's signal.
 *
 * When the provider can ack and fetch in one call (Provider.ackWorkItemAndFetchNext), a slot that
 * finished an activity acks it and locks its next item in one round trip, and processes that item
 * next (PollSlot.process returns it). The separate ack is kept for everything else: an ack after
 * the stop signal (no new leases), while the clock disagrees with the database's, a retry of an
 * ack whose first attempt failed (that attempt may have locked an item already), and the acks of
 * cancelled or non-activity items.
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
import { carriedOrchestration, orchestrationOf } from "./activity-orchestration.ts";
import { callWithRetries, whileHeld } from "./call-with-retries.ts";
import type { ClockGuard } from "./clock-guard.ts";
import { errorMessage } from "./errors.ts";
import { fromJson, toJson } from "./json.ts";
import { HeldLock, startRenewal, unregisteredBackoffMs } from "./lock-renewal.ts";
import type { RuntimeMetrics } from "./metrics.ts";
import { type ResolvedOptions, renewalIntervalMs } from "./options.ts";
import { type FetchNext, PollLoops, type PollSlot } from "./poll-loop.ts";
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
    const { provider, options, metrics } = this.deps;
    this.slots.start(options.workerConcurrency, (slot): PollSlot<Locked, WorkerFetch> => {
      const workerId = this.workerId(slot);
      const ownerId = options.workerNodeId ?? workerId;
      return {
        call: "fetchWorkItem",
        next: () => this.nextFetch(ownerId),
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
        process: async ({ fetched, lock }, fetchNext) =>
          await this.execute(fetched, { workerId, ownerId, fetchNext }, lock),
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

  /** What a slot's next fetch asks for. */
  private nextFetch(ownerId: string): WorkerFetch {
    const { options, sessions } = this.deps;
    return {
      queue: "worker",
      // At the session cap a slot takes only items outside sessions (or of sessions it holds).
      session:
        sessions.distinct >= options.maxSessionsPerRuntime
          ? null
          : { ownerId, lockTimeoutMs: options.sessionLockTimeoutMs },
      tagFilter: options.workerTagFilter,
    };
  }

  /** Run one item; returns the next item when its ack also locked one (see the module comment). */
  private async execute(
    fetched: FetchedWorkItem,
    slot: SlotIdentity,
    lock: HeldLock,
  ): Promise<Locked | null> {
    const { provider, options, sessions } = this.deps;
    const { item, lockToken } = fetched;
    if (!("ActivityExecute" in item)) {
      options.logger.error(`worker queue held a non-activity item; dropping it: ${JSON.stringify(item)}`);
      await provider.ackWorkItem(lockToken, null).catch(() => {});
      return null;
    }
    const a = item.ActivityExecute;
    const sessionId = a.session_id ?? null;
    if (sessionId !== null && !sessions.acquire(sessionId, options.maxSessionsPerRuntime)) {
      // Two slots raced past the cap: hand it back without counting the attempt.
      sessions.release(sessionId);
      await provider.abandonWorkItem(lockToken, OVER_CAPACITY_DELAY_MS, true).catch(() => {});
      return null;
    }
    // Released once: before the ack computes its next fetch (the activity is done, so its session
    // no longer counts toward the cap), or at the end whatever happened.
    let held = sessionId;
    const releaseSession = () => {
      if (held !== null) sessions.release(held);
      held = null;
    };
    try {
      return await this.run(a, fetched, { ...slot, releaseSession }, lock);
    } finally {
      releaseSession();
    }
  }

  private async run(
    a: ActivityExecuteItem,
    fetched: FetchedWorkItem,
    slot: RunningSlot,
    lock: HeldLock,
  ): Promise<Locked | null> {
    const { workerId } = slot;
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
      return await this.complete(lockToken, lock, slot, {
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
      return null;
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
    const orchestration =
      carriedOrchestration(a) ?? (await orchestrationOf(provider, a.instance, a.execution_id));
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
        return null;
      }
      if (first === "cancelled") {
        await Promise.race([
          settled,
          sleep(options.activityCancellationGracePeriodMs, this.deps.forceSignal),
        ]);
        await provider.ackWorkItem(lockToken, null).catch(() => {}); // normally fails: the row is gone
        return null;
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
      return await this.complete(lockToken, lock, slot, completion);
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
   *
   * The first attempt also locks the slot's next item when it can (see the module comment) and
   * returns it; a retry only acks, so an attempt whose outcome is unknown never leads to a second
   * item locked by the same ack (an item it may have locked comes back when its lease expires).
   */
  private async complete(
    lockToken: string,
    lock: HeldLock,
    slot: RunningSlot,
    completion: WorkItem,
  ): Promise<Locked | null> {
    const { provider, options, metrics, clockGuard, forceSignal } = this.deps;
    await clockGuard.waitUntilAgreed(forceSignal, lock.remainingMs() - ACK_LOCK_MARGIN_MS);
    let attempts = 0;
    const outcome = await callWithRetries(
      () => {
        const combined = attempts++ === 0 ? this.ackAndFetch(lockToken, slot, completion) : null;
        return combined ?? this.ackOnly(lockToken, completion);
      },
      // Until the lock runs out, or shutdown runs out of time (the item then returns on expiry).
      (delay) => !forceSignal.aborted && whileHeld(lock, ACK_LOCK_MARGIN_MS)(delay),
      () => metrics.providerErrors++,
    );
    if (outcome.kind !== "ok" && outcome.kind !== "exhausted") clockGuard.recheck();
    // A committed completion wakes an orchestration slot through the provider's wake-ups.
    if (outcome.kind === "ok") return outcome.value;
    if (outcome.kind === "unknown") {
      options.logger.warn(
        `ackWorkItem outcome unknown after a lost connection (${errorMessage(outcome.error)}); the item returns if it did not commit`,
      );
    } else {
      options.logger.warn(`ackWorkItem failed (${errorMessage(outcome.error)}); abandoning the item`);
      await provider.abandonWorkItem(lockToken, FAILED_ACK_ABANDON_MS, false).catch(() => {});
    }
    return null;
  }

  private async ackOnly(lockToken: string, completion: WorkItem): Promise<null> {
    const { provider, options } = this.deps;
    await options.telemetry.timeAck("worker", () => provider.ackWorkItem(lockToken, completion));
    return null;
  }

  /**
   * The ack that also locks the slot's next item, or null when this ack must not fetch: the
   * provider lacks the call, the runtime is stopping, or the clock disagrees with the database's.
   * One call, timed both as the worker's ack and as its fetch (with its item / empty result).
   */
  private ackAndFetch(
    lockToken: string,
    slot: RunningSlot,
    completion: WorkItem,
  ): Promise<Locked | null> | null {
    const { provider, options, clockGuard, stopSignal } = this.deps;
    if (!provider.ackWorkItemAndFetchNext || stopSignal.aborted || !clockGuard.agrees) return null;
    const ackAndFetchNext = provider.ackWorkItemAndFetchNext.bind(provider);
    slot.releaseSession(); // the activity is done: its session no longer counts toward the cap
    // Through the loop's fetchNext: the slot's waiter notes the queue first, and an empty result
    // lets the loop wait at once instead of fetching again.
    return options.telemetry.timeAck("worker", () =>
      slot.fetchNext(async (what) => {
        const sentAt = performance.now();
        const fetched = await options.telemetry.timeFetch("worker", () =>
          ackAndFetchNext(lockToken, completion, options.workerLockTimeoutMs, what.session, what.tagFilter),
        );
        // The lease was taken during the call: count it from when the call was sent.
        return fetched && { fetched, lock: new HeldLock(options.workerLockTimeoutMs, sentAt) };
      }),
    );
  }
}

/** A fetched item and its lease as known locally: what a slot processes. */
interface Locked {
  fetched: FetchedWorkItem;
  lock: HeldLock;
}

/**
 * Who a slot is (its worker id for ActivityContext.workerId, its session owner id) and its loop's
 * fetchNext, for an ack that fetches the next item.
 */
interface SlotIdentity {
  workerId: string;
  ownerId: string;
  fetchNext: FetchNext<Locked, WorkerFetch>;
}

/** A slot running an activity: it also releases the activity's session once (see execute). */
interface RunningSlot extends SlotIdentity {
  releaseSession(): void;
}
