/**
 * Worker (activity) queue and sessions. Each function is one call of one PL/pgSQL function.
 */
import { ProviderError } from "./errors.ts";
import type { SqlFunctions } from "./sql.ts";
import type { FetchedWorkItem, SessionFetchConfig, TagFilter, WorkItem } from "./types.ts";

const todo = (op: string): never => {
  throw ProviderError.permanent(op, "not implemented yet");
};

export async function enqueueForWorker(_sql: SqlFunctions, _item: WorkItem): Promise<void> {
  todo("enqueue_for_worker");
}
export async function fetchWorkItem(
  _sql: SqlFunctions,
  _lockTimeoutMs: number,
  _pollTimeoutMs: number,
  _session: SessionFetchConfig | null,
  _tagFilter: TagFilter,
): Promise<FetchedWorkItem | null> {
  return todo("fetch_work_item");
}
export async function ackWorkItem(_sql: SqlFunctions, _lockToken: string, _completion: WorkItem | null): Promise<void> {
  todo("ack_work_item");
}
export async function renewWorkItemLock(_sql: SqlFunctions, _lockToken: string, _extendForMs: number): Promise<void> {
  todo("renew_work_item_lock");
}
export async function abandonWorkItem(
  _sql: SqlFunctions,
  _lockToken: string,
  _delayMs: number | null,
  _ignoreAttempt: boolean,
): Promise<void> {
  todo("abandon_work_item");
}
export async function renewSessionLock(
  _sql: SqlFunctions,
  _ownerIds: readonly string[],
  _extendForMs: number,
  _idleTimeoutMs: number,
): Promise<number> {
  return todo("renew_session_lock");
}
export async function cleanupOrphanedSessions(_sql: SqlFunctions, _idleTimeoutMs: number): Promise<number> {
  return todo("cleanup_orphaned_sessions");
}
