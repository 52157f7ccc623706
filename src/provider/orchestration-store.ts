/**
 * Orchestrator queue, instance locks, history, custom status and KV reads.
 * Each function is one call of one PL/pgSQL function.
 */
import { ProviderError } from "./errors.ts";
import type { SqlFunctions } from "./sql.ts";
import type {
  CustomStatusChange,
  DispatcherCapabilityFilter,
  Event,
  ExecutionMetadata,
  FetchedOrchestrationItem,
  ScheduledActivityIdentifier,
  WorkItem,
} from "./types.ts";

export interface AckOrchestrationArgs {
  lockToken: string;
  executionId: number;
  historyDelta: Event[];
  workerItems: WorkItem[];
  orchestratorItems: WorkItem[];
  metadata: ExecutionMetadata;
  cancelledActivities: ScheduledActivityIdentifier[];
}

const todo = (op: string): never => {
  throw ProviderError.permanent(op, "not implemented yet");
};

export async function enqueueForOrchestrator(_sql: SqlFunctions, _item: WorkItem, _delayMs: number | null): Promise<void> {
  todo("enqueue_for_orchestrator");
}
export async function fetchOrchestrationItem(
  _sql: SqlFunctions,
  _lockTimeoutMs: number,
  _pollTimeoutMs: number,
  _filter: DispatcherCapabilityFilter | null,
): Promise<FetchedOrchestrationItem | null> {
  return todo("fetch_orchestration_item");
}
export async function ackOrchestrationItem(_sql: SqlFunctions, _args: AckOrchestrationArgs): Promise<void> {
  todo("ack_orchestration_item");
}
export async function abandonOrchestrationItem(
  _sql: SqlFunctions,
  _lockToken: string,
  _delayMs: number | null,
  _ignoreAttempt: boolean,
): Promise<void> {
  todo("abandon_orchestration_item");
}
export async function renewOrchestrationItemLock(_sql: SqlFunctions, _lockToken: string, _extendForMs: number): Promise<void> {
  todo("renew_orchestration_item_lock");
}
export async function read(_sql: SqlFunctions, _instance: string): Promise<Event[]> {
  return todo("read");
}
export async function readWithExecution(_sql: SqlFunctions, _instance: string, _executionId: number): Promise<Event[]> {
  return todo("read_with_execution");
}
export async function appendWithExecution(
  _sql: SqlFunctions,
  _instance: string,
  _executionId: number,
  _events: Event[],
): Promise<void> {
  todo("append_with_execution");
}
export async function getCustomStatus(
  _sql: SqlFunctions,
  _instance: string,
  _lastSeenVersion: number,
): Promise<CustomStatusChange | null> {
  return todo("get_custom_status");
}
export async function getKvValue(_sql: SqlFunctions, _instance: string, _key: string): Promise<string | null> {
  return todo("get_kv_value");
}
export async function getKvAllValues(_sql: SqlFunctions, _instance: string): Promise<Map<string, string>> {
  return todo("get_kv_all_values");
}
