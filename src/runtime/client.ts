/**
 * Client: starts orchestrations, sends them events, reads their status and KV, waits for them,
 * and passes management calls through to the provider's admin capability.
 *
 * Waiting never hot-polls: waitForOrchestration/waitForStatusChange/waitForValue re-read the store
 * with a backoff (10 ms doubling up to `maxPollIntervalMs`, default 250 ms) and, when the provider
 * has wake-ups (Provider.wakeups), are woken as soon as it sees the instance change (PostgresProvider:
 * an ack through the same provider object).
 */
import type {
  DeleteInstanceResult,
  ErrorDetails,
  Event,
  ExecutionInfo,
  InstanceFilter,
  InstanceInfo,
  InstanceTree,
  InstanceWatch,
  Provider,
  ProviderAdmin,
  PruneOptions,
  PruneResult,
  QueueDepths,
  SystemMetrics,
  SystemStats,
  WorkItem,
} from "../provider/types.ts";
import { sleep } from "./abortable.ts";
import { displayError, WaitTimeoutError } from "./errors.ts";
import { fromJson, toJson } from "./json.ts";
import {
  checkIndexedField,
  checkPayloadSize,
  type IndexedField,
  type PayloadLimits,
  resolveLimits,
} from "./limits.ts";
import { traceFields } from "./telemetry/context-propagation.ts";
import { inSpan, startClientSpan } from "./telemetry/tracer.ts";

interface StatusCommon {
  /** Latest custom status (null when never set or reset). */
  customStatus: string | null;
  customStatusVersion: number;
}

export type OrchestrationStatus =
  | { status: "NotFound" }
  | ({ status: "Running" } & StatusCommon)
  /** `output` is the raw JSON text the orchestration returned. */
  | ({ status: "Completed"; output: string } & StatusCommon)
  /** `error` is the display string of `details`. */
  | ({ status: "Failed"; error: string; details: ErrorDetails } & StatusCommon);

/** A finished orchestration as waitForOrchestration returns it: output decoded from JSON. */
export type FinishedStatus<T = unknown> =
  | ({ status: "Completed"; output: T } & StatusCommon)
  | ({ status: "Failed"; error: string; details: ErrorDetails } & StatusCommon);

export interface ClientOptions {
  /** Cap of the backoff between status polls while waiting. Default 250 ms. */
  maxPollIntervalMs?: number;
  /**
   * Payload budgets checked before anything is sent (docs/limits.md). Default DEFAULT_LIMITS;
   * keep them no larger than the runtimes' (`RuntimeOptions.limits`).
   */
  limits?: Partial<PayloadLimits>;
}

export class Client {
  private readonly maxPollIntervalMs: number;
  private readonly limits: PayloadLimits;

  constructor(
    private readonly provider: Provider,
    options: ClientOptions = {},
  ) {
    this.maxPollIntervalMs = options.maxPollIntervalMs ?? 250;
    this.limits = resolveLimits(options.limits);
  }

  // --- starting and messaging -----------------------------------------------------------------

  /** Start an instance (ignored if the id already exists: delete it first to reuse an id). */
  async startOrchestration(instanceId: string, orchestrationName: string, input?: unknown): Promise<void> {
    await this.startOrchestrationVersioned(instanceId, orchestrationName, input, null);
  }

  async startOrchestrationVersioned(
    instanceId: string,
    orchestrationName: string,
    input: unknown,
    version: string | null,
  ): Promise<void> {
    checkId(instanceId);
    checkId(orchestrationName, "orchestration name");
    if (version !== null && version !== undefined) checkName(version, "orchestration version");
    const encoded = toJson(input, `input of orchestration '${orchestrationName}'`, this.limits);
    // The start span's context rides in the work item: every turn and activity descends from it.
    const span = startClientSpan(instanceId, orchestrationName, version || null);
    await inSpan(span, () =>
      this.send({
        StartOrchestration: {
          instance: instanceId,
          orchestration: orchestrationName,
          input: encoded,
          version: version || null,
          parent_instance: null,
          parent_id: null,
          execution_id: 1,
          ...traceFields(span),
        },
      }),
    );
  }

  /** Raise an event; delivered to a waitForEvent(name) that is already waiting. */
  async raiseEvent(instanceId: string, eventName: string, data?: unknown): Promise<void> {
    checkId(instanceId);
    checkName(eventName, "event name");
    const encoded = toJson(data, `data of event '${eventName}'`, this.limits);
    await this.send({ ExternalRaised: { instance: instanceId, name: eventName, data: encoded } });
  }

  /** Append a message to the instance's persistent queue (dequeueEvent(queueName)). */
  async enqueueEvent(instanceId: string, queueName: string, data?: unknown): Promise<void> {
    checkId(instanceId);
    checkName(queueName, "queue name");
    const encoded = toJson(data, `data of queue message '${queueName}'`, this.limits);
    await this.send({ QueueMessage: { instance: instanceId, name: queueName, data: encoded } });
  }

  /** Cancel an instance and, through it, its sub-orchestrations. A finished instance is left alone. */
  async cancelInstance(instanceId: string, reason = ""): Promise<void> {
    checkId(instanceId);
    if (typeof reason !== "string") throw new TypeError("cancellation reason must be a string");
    checkPayloadSize(reason, "cancellation reason", this.limits);
    checkCharacters(reason, "cancellation reason");
    await this.send({ CancelInstance: { instance: instanceId, reason } });
  }

  // duroxide-node's *Typed aliases.
  startOrchestrationTyped = this.startOrchestration;
  startOrchestrationVersionedTyped = this.startOrchestrationVersioned;
  raiseEventTyped = this.raiseEvent;
  enqueueEventTyped = this.enqueueEvent;

  // --- status ---------------------------------------------------------------------------------

  async getStatus(instanceId: string): Promise<OrchestrationStatus> {
    const history = await this.provider.read(instanceId);
    let custom: StatusCommon = { customStatus: null, customStatusVersion: 0 };
    try {
      const change = await this.provider.getCustomStatus(instanceId, 0);
      if (change) custom = { customStatus: change.customStatus, customStatusVersion: change.version };
    } catch {
      // custom status is best effort; the history decides the status
    }
    return statusFromHistory(history, custom);
  }

  /** Wait until the instance completes or fails; output is JSON-decoded. Throws WaitTimeoutError. */
  async waitForOrchestration<T = unknown>(
    instanceId: string,
    timeoutMs = 30_000,
  ): Promise<FinishedStatus<T>> {
    const status = await this.waitUntil(
      instanceId,
      timeoutMs,
      (s) => s.status === "Completed" || s.status === "Failed",
    );
    if (!status)
      throw new WaitTimeoutError(`Timed out waiting for orchestration '${instanceId}' after ${timeoutMs}ms`);
    if (status.status === "Completed") return { ...status, output: fromJson(status.output) as T };
    return status as FinishedStatus<T>;
  }

  /** The decoded output of a completed instance; a failure is thrown as an Error with its message. */
  async waitForOrchestrationTyped<T = unknown>(instanceId: string, timeoutMs = 30_000): Promise<T> {
    const status = await this.waitForOrchestration<T>(instanceId, timeoutMs);
    if (status.status === "Failed") throw new Error(status.error || "Orchestration failed");
    return status.output;
  }

  /**
   * Wait until the custom status version passes `lastSeenVersion` or the instance finishes;
   * returns the status then. Throws WaitTimeoutError.
   */
  async waitForStatusChange(
    instanceId: string,
    lastSeenVersion: number,
    pollIntervalMs = 500,
    timeoutMs = 30_000,
  ): Promise<OrchestrationStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const waiter = this.watch(instanceId);
      const change = await this.provider.getCustomStatus(instanceId, lastSeenVersion).catch(() => null);
      const status = await this.getStatus(instanceId);
      if (change || status.status === "Completed" || status.status === "Failed") {
        waiter.cancel();
        return status;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        waiter.cancel();
        throw new WaitTimeoutError(
          `Timed out waiting for a status change of '${instanceId}' after ${timeoutMs}ms`,
        );
      }
      await waiter.wait(Math.min(pollIntervalMs, remaining));
    }
  }

  // --- KV -------------------------------------------------------------------------------------

  getValue(instanceId: string, key: string): Promise<string | null> {
    return this.provider.getKvValue(instanceId, key);
  }

  async getKvAllValues(instanceId: string): Promise<Record<string, string>> {
    return Object.fromEntries(await this.provider.getKvAllValues(instanceId));
  }

  /** Wait until `key` has a value. Throws WaitTimeoutError. */
  async waitForValue(instanceId: string, key: string, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (let delay = 10; ; delay = Math.min(delay * 2, this.maxPollIntervalMs)) {
      const waiter = this.watch(instanceId);
      const value = await this.provider.getKvValue(instanceId, key);
      if (value !== null) {
        waiter.cancel();
        return value;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        waiter.cancel();
        throw new WaitTimeoutError(`Timed out waiting for value '${key}' on instance '${instanceId}'`);
      }
      await waiter.wait(Math.min(delay, remaining));
    }
  }

  getOrchestrationStats(instanceId: string): Promise<SystemStats | null> {
    return this.provider.getInstanceStats(instanceId);
  }

  // --- management (ProviderAdmin pass-through) ------------------------------------------------

  listAllInstances(): Promise<string[]> {
    return this.admin().listInstances();
  }
  listInstancesByStatus(status: string): Promise<string[]> {
    return this.admin().listInstancesByStatus(status);
  }
  getInstanceInfo(instanceId: string): Promise<InstanceInfo> {
    return this.admin().getInstanceInfo(instanceId);
  }
  getExecutionInfo(instanceId: string, executionId: number): Promise<ExecutionInfo> {
    return this.admin().getExecutionInfo(instanceId, executionId);
  }
  listExecutions(instanceId: string): Promise<number[]> {
    return this.admin().listExecutions(instanceId);
  }
  readExecutionHistory(instanceId: string, executionId: number): Promise<Event[]> {
    return this.admin().readHistoryWithExecutionId(instanceId, executionId);
  }
  getInstanceTree(instanceId: string): Promise<InstanceTree> {
    return this.admin().getInstanceTree(instanceId);
  }
  getSystemMetrics(): Promise<SystemMetrics> {
    return this.admin().getSystemMetrics();
  }
  getQueueDepths(): Promise<QueueDepths> {
    return this.admin().getQueueDepths();
  }
  deleteInstance(instanceId: string, force = false): Promise<DeleteInstanceResult> {
    return this.admin().deleteInstance(instanceId, force);
  }
  deleteInstanceBulk(filter: InstanceFilter = {}): Promise<DeleteInstanceResult> {
    return this.admin().deleteInstanceBulk(filter);
  }
  pruneExecutions(instanceId: string, options: PruneOptions = {}): Promise<PruneResult> {
    return this.admin().pruneExecutions(instanceId, options);
  }
  pruneExecutionsBulk(filter: InstanceFilter = {}, options: PruneOptions = {}): Promise<PruneResult> {
    return this.admin().pruneExecutionsBulk(filter, options);
  }

  // --- internals ------------------------------------------------------------------------------

  private async send(item: WorkItem): Promise<void> {
    // The provider wakes a dispatcher slot (its wake-ups, or the slots' next poll).
    await this.provider.enqueueForOrchestrator(item, null);
  }

  /** Watch `instanceId` before reading it; without provider wake-ups, waits just sleep. */
  private watch(instanceId: string): InstanceWatch {
    return this.provider.wakeups?.watchInstance(instanceId) ?? SLEEP_ONLY;
  }

  private admin(): ProviderAdmin {
    const admin = this.provider.asManagementCapability();
    if (!admin)
      throw new Error(`management not available: provider '${this.provider.name()}' has no admin capability`);
    return admin;
  }

  /** Poll with backoff (woken early by the provider's wake-ups) until `done` holds; null on timeout. */
  private async waitUntil(
    instanceId: string,
    timeoutMs: number,
    done: (s: OrchestrationStatus) => boolean,
  ): Promise<Exclude<OrchestrationStatus, { status: "NotFound" }> | null> {
    const deadline = Date.now() + timeoutMs;
    for (let delay = 10; ; delay = Math.min(delay * 2, this.maxPollIntervalMs)) {
      const waiter = this.watch(instanceId);
      const status = await this.getStatus(instanceId);
      if (done(status) && status.status !== "NotFound") {
        waiter.cancel();
        return status;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        waiter.cancel();
        return null;
      }
      await waiter.wait(Math.min(delay, remaining));
    }
  }
}

/** The watch of a provider without wake-ups: the client re-reads after each backoff. */
const SLEEP_ONLY: InstanceWatch = { wait: sleep, cancel: () => {} };

/** Status from the latest execution's history: its terminal event, else Running, else NotFound. */
export function statusFromHistory(history: readonly Event[], custom: StatusCommon): OrchestrationStatus {
  for (let i = history.length - 1; i >= 0; i--) {
    const e = history[i]!;
    if (e.type === "OrchestrationCompleted") return { status: "Completed", output: e.output, ...custom };
    if (e.type === "OrchestrationFailed") {
      return { status: "Failed", error: displayError(e.details), details: e.details, ...custom };
    }
  }
  if (history.some((e) => e.type === "OrchestrationStarted")) return { status: "Running", ...custom };
  return { status: "NotFound" };
}

/** A non-empty id or name the store can keep and index (characters and UTF-8 size). */
function checkId(value: unknown, what: "instance id" | "orchestration name" = "instance id"): void {
  if (typeof value !== "string" || value === "") throw new TypeError(`${what} must be a non-empty string`);
  checkIndexedField(value, what);
}

/** A name that may be empty (an event or queue name, a version) but must still be storable. */
function checkName(value: unknown, what: IndexedField): void {
  if (typeof value !== "string") throw new TypeError(`${what} must be a string`);
  checkIndexedField(value, what);
}

/** Free text inside a work item: JSON escapes NUL, but a lone surrogate cannot be encoded. */
function checkCharacters(value: string, what: string): void {
  if (/[\uD800-\uDFFF]/u.test(value))
    throw new TypeError(`${what} contains a lone UTF-16 surrogate, which is not valid Unicode`);
}
