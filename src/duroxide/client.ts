/**
 * duroxide-node's Client over the main API's Client: same method names, defaults and result
 * shapes (shapes.ts, history.ts). Inputs and event data are JSON-encoded as duroxide-node does
 * (`undefined` → null); KV values and custom status stay plain strings.
 */
import type {
  DeleteInstanceResult,
  InstanceFilter,
  Provider,
  PruneOptions,
  PruneResult,
  QueueDepths,
  SystemMetrics,
  SystemStats,
} from "../provider/types.ts";
import { Client as StoreClient } from "../runtime/client.ts";
import { historyEvent, type JsEvent } from "./history.ts";
import {
  executionInfoObject,
  instanceInfoObject,
  instanceTreeObject,
  type JsExecutionInfo,
  type JsInstanceInfo,
  type JsInstanceTree,
  type JsOrchestrationStatus,
  statusObject,
} from "./shapes.ts";

const DEFAULT_WAIT_MS = 30_000;

export class Client {
  private readonly store: StoreClient;

  constructor(provider: Provider) {
    this.store = new StoreClient(provider);
  }

  // --- starting and messaging -----------------------------------------------------------------

  startOrchestration(instanceId: string, orchestrationName: string, input?: unknown): Promise<void> {
    return this.store.startOrchestration(instanceId, orchestrationName, input);
  }

  startOrchestrationVersioned(
    instanceId: string,
    orchestrationName: string,
    input: unknown,
    version: string,
  ): Promise<void> {
    return this.store.startOrchestrationVersioned(instanceId, orchestrationName, input, version);
  }

  raiseEvent(instanceId: string, eventName: string, data?: unknown): Promise<void> {
    return this.store.raiseEvent(instanceId, eventName, data);
  }

  enqueueEvent(instanceId: string, queueName: string, data?: unknown): Promise<void> {
    return this.store.enqueueEvent(instanceId, queueName, data);
  }

  cancelInstance(instanceId: string, reason?: string): Promise<void> {
    return this.store.cancelInstance(instanceId, reason ?? "");
  }

  // --- status ---------------------------------------------------------------------------------

  /** `output` is the raw JSON text here (duroxide-node does not decode it in getStatus). */
  async getStatus(instanceId: string): Promise<JsOrchestrationStatus> {
    return statusObject(await this.store.getStatus(instanceId), false);
  }

  /** Completed or Failed (never throws for Failed); output decoded. Throws on timeout. */
  async waitForOrchestration(
    instanceId: string,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<JsOrchestrationStatus> {
    return statusObject(await this.store.waitForOrchestration(instanceId, timeoutMs), false);
  }

  /** The decoded output; a failed orchestration throws Error(its error). */
  waitForOrchestrationTyped<T = unknown>(instanceId: string, timeoutMs = DEFAULT_WAIT_MS): Promise<T> {
    return this.store.waitForOrchestrationTyped<T>(instanceId, timeoutMs);
  }

  /** The status once the custom status passes `lastSeenVersion` or the instance ends. Throws on timeout. */
  async waitForStatusChange(
    instanceId: string,
    lastSeenVersion: number,
    pollIntervalMs = 500,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<JsOrchestrationStatus> {
    const status = await this.store.waitForStatusChange(
      instanceId,
      lastSeenVersion,
      pollIntervalMs,
      timeoutMs,
    );
    return statusObject(status, true);
  }

  // --- KV -------------------------------------------------------------------------------------

  getValue(instanceId: string, key: string): Promise<string | null> {
    return this.store.getValue(instanceId, key);
  }

  /** Throws `Timed out waiting for value '<key>' on instance '<id>'`. */
  waitForValue(instanceId: string, key: string, timeoutMs = DEFAULT_WAIT_MS): Promise<string> {
    return this.store.waitForValue(instanceId, key, timeoutMs);
  }

  getKvAllValues(instanceId: string): Promise<Record<string, string>> {
    return this.store.getKvAllValues(instanceId);
  }

  // --- metrics and management -----------------------------------------------------------------

  getSystemMetrics(): Promise<SystemMetrics> {
    return this.store.getSystemMetrics();
  }

  getOrchestrationStats(instanceId: string): Promise<SystemStats | null> {
    return this.store.getOrchestrationStats(instanceId);
  }

  getQueueDepths(): Promise<QueueDepths> {
    return this.store.getQueueDepths();
  }

  listAllInstances(): Promise<string[]> {
    return this.store.listAllInstances();
  }

  listInstancesByStatus(status: string): Promise<string[]> {
    return this.store.listInstancesByStatus(status);
  }

  async getInstanceInfo(instanceId: string): Promise<JsInstanceInfo> {
    return instanceInfoObject(await this.store.getInstanceInfo(instanceId));
  }

  async getExecutionInfo(instanceId: string, executionId: number): Promise<JsExecutionInfo> {
    return executionInfoObject(await this.store.getExecutionInfo(instanceId, executionId));
  }

  listExecutions(instanceId: string): Promise<number[]> {
    return this.store.listExecutions(instanceId);
  }

  async readExecutionHistory(instanceId: string, executionId: number): Promise<JsEvent[]> {
    return (await this.store.readExecutionHistory(instanceId, executionId)).map(historyEvent);
  }

  async getInstanceTree(instanceId: string): Promise<JsInstanceTree> {
    return instanceTreeObject(await this.store.getInstanceTree(instanceId));
  }

  /** `force` deletes a running instance too. (`{ force }`, as duroxide-node's guide writes it, works as well.) */
  deleteInstance(
    instanceId: string,
    force: boolean | { force?: boolean } = false,
  ): Promise<DeleteInstanceResult> {
    const forced = typeof force === "object" && force !== null ? force.force === true : force === true;
    return this.store.deleteInstance(instanceId, forced);
  }

  deleteInstanceBulk(filter: InstanceFilter = {}): Promise<DeleteInstanceResult> {
    return this.store.deleteInstanceBulk(filter);
  }

  pruneExecutions(instanceId: string, options: PruneOptions = {}): Promise<PruneResult> {
    return this.store.pruneExecutions(instanceId, options);
  }

  pruneExecutionsBulk(filter: InstanceFilter = {}, options: PruneOptions = {}): Promise<PruneResult> {
    return this.store.pruneExecutionsBulk(filter, options);
  }

  // --- duroxide-node's *Typed aliases (inputs are encoded the same way) ------------------------

  startOrchestrationTyped(instanceId: string, orchestrationName: string, input?: unknown): Promise<void> {
    return this.startOrchestration(instanceId, orchestrationName, input);
  }

  startOrchestrationVersionedTyped(
    instanceId: string,
    orchestrationName: string,
    input: unknown,
    version: string,
  ): Promise<void> {
    return this.startOrchestrationVersioned(instanceId, orchestrationName, input, version);
  }

  raiseEventTyped(instanceId: string, eventName: string, data?: unknown): Promise<void> {
    return this.raiseEvent(instanceId, eventName, data);
  }

  enqueueEventTyped(instanceId: string, queueName: string, data?: unknown): Promise<void> {
    return this.enqueueEvent(instanceId, queueName, data);
  }

  // --- names duroxide-node's user guide uses but its SDK lacks; accepted so guide code runs ----

  /** = getStatus (the user guide's name). */
  getOrchestrationStatus(instanceId: string): Promise<JsOrchestrationStatus> {
    return this.getStatus(instanceId);
  }

  /** = cancelInstance (the user guide's name). */
  cancelOrchestration(instanceId: string, reason?: string): Promise<void> {
    return this.cancelInstance(instanceId, reason);
  }
}
