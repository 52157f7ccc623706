/**
 * The plain objects duroxide-node's Client returns (its index.d.ts `Js*` types), built from the
 * main API's results. Optional fields are absent, not null, as duroxide-node leaves them.
 */
import type { ExecutionInfo, InstanceInfo, InstanceTree } from "../provider/types.ts";
import type { FinishedStatus, OrchestrationStatus as StoreStatus } from "../runtime/client.ts";

export interface JsOrchestrationStatus {
  status: "NotFound" | "Running" | "Completed" | "Failed" | string;
  /** getStatus: the raw JSON text; waitForOrchestration/waitForStatusChange: decoded. */
  output?: unknown;
  error?: string;
  customStatus?: string;
  customStatusVersion: number;
}

export interface JsInstanceInfo {
  instanceId: string;
  orchestrationName: string;
  orchestrationVersion: string;
  currentExecutionId: number;
  status: string;
  output?: unknown;
  createdAt: number;
  updatedAt: number;
  parentInstanceId?: string;
}

export interface JsExecutionInfo {
  executionId: number;
  status: string;
  output?: unknown;
  startedAt: number;
  completedAt?: number;
  eventCount: number;
}

export interface JsInstanceTree {
  rootId: string;
  allIds: string[];
  size: number;
}

/**
 * The status object. With `decode`, a completed output (raw JSON text) is decoded; a
 * FinishedStatus (waitForOrchestration's) already carries it decoded.
 */
export function statusObject(status: StoreStatus | FinishedStatus, decode: boolean): JsOrchestrationStatus {
  if (status.status === "NotFound") return { status: "NotFound", customStatusVersion: 0 };
  const shaped: JsOrchestrationStatus = {
    status: status.status,
    customStatusVersion: status.customStatusVersion,
  };
  if (status.status === "Completed") {
    shaped.output = decode && typeof status.output === "string" ? decodeOutput(status.output) : status.output;
  }
  if (status.status === "Failed") shaped.error = status.error;
  if (status.customStatus !== null) shaped.customStatus = status.customStatus;
  return shaped;
}

export function instanceInfoObject(info: InstanceInfo): JsInstanceInfo {
  const { output, parentInstanceId, ...rest } = info;
  return {
    ...rest,
    ...(output ? { output: decodeOutput(output) } : {}),
    ...(parentInstanceId !== null ? { parentInstanceId } : {}),
  };
}

export function executionInfoObject(info: ExecutionInfo): JsExecutionInfo {
  const { output, completedAt, ...rest } = info;
  return {
    ...rest,
    ...(output ? { output: decodeOutput(output) } : {}),
    ...(completedAt !== null ? { completedAt } : {}),
  };
}

export function instanceTreeObject(tree: InstanceTree): JsInstanceTree {
  return { rootId: tree.rootId, allIds: tree.allIds, size: tree.allIds.length };
}

/** duroxide-node decodes outputs with JSON.parse and keeps the text when that fails. */
export function decodeOutput(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
