/**
 * Worker (activity) queue and sessions. Each function is one call of one PL/pgSQL function
 * (migrations/0003, 0008 sessions, 0009 tag routing); this side encodes, extracts the identity
 * columns SQL needs and strictly decodes what comes back.
 */
import { CodecError, checkTextColumn, decodeWorkItem, encodeWorkItem, workItemKind } from "./codec.ts";
import { ProviderError } from "./errors.ts";
import { checkLockToken, confirmFetchedLock, handoverTookLong } from "./orchestration-store.ts";
import type { SqlFunctions } from "./sql.ts";
import type { FetchedWorkItem, SessionFetchConfig, TagFilter, WorkItem } from "./types.ts";

/** Identity columns of a worker row, from its ActivityExecute (null for other variants). */
function identityOf(item: WorkItem) {
  if ("ActivityExecute" in item) {
    const a = item.ActivityExecute;
    return [a.instance, a.execution_id, a.id, a.session_id ?? null, a.tag ?? null] as const;
  }
  return [null, null, null, null, null] as const;
}

/** Encode `item` (and check the strings bound for text columns), as a permanent error of `operation`. */
function encodeOrThrow(
  operation: string,
  item: WorkItem,
  columns: Readonly<Record<string, string | null>> = {},
): string {
  try {
    for (const [what, value] of Object.entries(columns)) checkTextColumn(value, what);
    workItemKind(item);
    return encodeWorkItem(item);
  } catch (error) {
    if (error instanceof CodecError) throw ProviderError.permanent(operation, error.message, error);
    throw error;
  }
}

export async function enqueueForWorker(sql: SqlFunctions, item: WorkItem): Promise<void> {
  const identity = identityOf(item);
  const text = encodeOrThrow("enqueue_for_worker", item, {
    "instance id": identity[0],
    "session id": identity[3],
    tag: identity[4],
  });
  await sql.call("enqueue_for_worker", "enqueue_worker_item", [
    workItemKind(item),
    text,
    ...identity,
    sql.now(),
  ]);
}

const TAG_MODES = {
  defaultOnly: "default_only",
  tags: "tags",
  defaultAnd: "default_and",
  any: "any",
} as const;

export async function fetchWorkItem(
  sql: SqlFunctions,
  lockTimeoutMs: number,
  _pollTimeoutMs: number,
  session: SessionFetchConfig | null,
  tagFilter: TagFilter,
): Promise<FetchedWorkItem | null> {
  if (tagFilter.kind === "none") return null;
  const lockedAtMs = sql.now();
  const row = await sql.callOne<FetchedRow>("fetch_work_item", "fetch_work_item", [
    lockedAtMs,
    ...fetchArgs(lockTimeoutMs, session, tagFilter),
  ]);
  return await fetchedItem(sql, "fetch_work_item", row, lockedAtMs, lockTimeoutMs);
}

/** What fetch_work_item and ack_and_fetch_work_item return: a row, or none when nothing is available. */
interface FetchedRow {
  work_item: string | null;
  lock_token: string | null;
  attempt_count: number;
}

/** fetch_work_item's arguments after p_now_ms, for a filter other than `none`. */
function fetchArgs(
  lockTimeoutMs: number,
  session: SessionFetchConfig | null,
  tagFilter: TagFilter,
): unknown[] {
  // Sorted so the same filter always sends the same array (stable plans, readable logs).
  const tags = "tags" in tagFilter ? [...tagFilter.tags].sort() : [];
  const mode = tagFilter.kind === "none" ? null : TAG_MODES[tagFilter.kind];
  return [lockTimeoutMs, session?.ownerId ?? null, session?.lockTimeoutMs ?? lockTimeoutMs, mode, tags];
}

/** Decode a fetched row, confirming its lease when the handover took long; null when none (or lost). */
async function fetchedItem(
  sql: SqlFunctions,
  operation: string,
  row: FetchedRow | undefined,
  lockedAtMs: number,
  lockTimeoutMs: number,
): Promise<FetchedWorkItem | null> {
  if (!row?.lock_token || row.work_item === null) return null;
  let item: WorkItem;
  try {
    item = decodeWorkItem(row.work_item);
  } catch (error) {
    // The row stays locked under this token until it expires, then is offered again with a higher
    // attempt count; other items keep flowing. Retrying cannot fix a corrupt row: permanent.
    throw ProviderError.permanent(
      operation,
      `stored work item cannot be decoded: ${(error as Error).message}`,
      error,
    );
  }
  // Lease on handover: see HANDOVER_CONFIRM_FRACTION in orchestration-store.ts.
  if (
    handoverTookLong(lockedAtMs, sql.now(), lockTimeoutMs) &&
    !(await confirmFetchedLock(sql, "confirm_work_item_lock", row.lock_token, lockTimeoutMs))
  ) {
    return null;
  }
  return { item, lockToken: row.lock_token, attemptCount: row.attempt_count };
}

/**
 * ack_work_item's arguments before p_now_ms (token, completion kind, text, instance), checked and
 * encoded: the one validation point of an ack, so the call skips the backstop.
 */
function ackArgs(operation: string, lockToken: string, completion: WorkItem | null): unknown[] {
  let kind: string | null = null;
  let text: string | null = null;
  let instance: string | null = null;
  checkLockToken(operation, lockToken);
  if (completion !== null) {
    if ("ActivityCompleted" in completion) instance = completion.ActivityCompleted.instance;
    else if ("ActivityFailed" in completion) instance = completion.ActivityFailed.instance;
    else {
      throw ProviderError.permanent(
        operation,
        `a work item completion must be ActivityCompleted or ActivityFailed, got ${Object.keys(completion).join(", ")}`,
      );
    }
    text = encodeOrThrow(operation, completion, { "completion instance id": instance });
    kind = workItemKind(completion); // checked by encodeOrThrow
  }
  return [lockToken, kind, text, instance];
}

export async function ackWorkItem(
  sql: SqlFunctions,
  lockToken: string,
  completion: WorkItem | null,
): Promise<void> {
  const args = ackArgs("ack_work_item", lockToken, completion);
  await sql.call("ack_work_item", "ack_work_item", [...args, sql.now()], { validated: true });
}

/**
 * Ack `lockToken` as ackWorkItem does, then fetch the next item as fetchWorkItem does, in one
 * call (ack_and_fetch_work_item). A failed ack fails the call and fetches nothing.
 */
export async function ackWorkItemAndFetchNext(
  sql: SqlFunctions,
  lockToken: string,
  completion: WorkItem | null,
  lockTimeoutMs: number,
  session: SessionFetchConfig | null,
  tagFilter: TagFilter,
): Promise<FetchedWorkItem | null> {
  const operation = "ack_and_fetch_work_item";
  const args = ackArgs(operation, lockToken, completion);
  if (tagFilter.kind === "none") {
    await sql.call(operation, "ack_work_item", [...args, sql.now()], { validated: true });
    return null;
  }
  if (session) {
    // The rest of the backstop (the ack's strings were checked by ackArgs).
    try {
      checkTextColumn(session.ownerId, "session owner id");
    } catch (error) {
      throw ProviderError.permanent(operation, (error as Error).message, error);
    }
  }
  const lockedAtMs = sql.now();
  const [row] = await sql.call<FetchedRow>(
    operation,
    operation,
    [...args, lockedAtMs, ...fetchArgs(lockTimeoutMs, session, tagFilter)],
    { validated: true },
  );
  return await fetchedItem(sql, operation, row, lockedAtMs, lockTimeoutMs);
}

export async function renewWorkItemLock(
  sql: SqlFunctions,
  lockToken: string,
  extendForMs: number,
): Promise<void> {
  checkLockToken("renew_work_item_lock", lockToken);
  await sql.call("renew_work_item_lock", "renew_work_item_lock", [lockToken, extendForMs, sql.now()]);
}

export async function abandonWorkItem(
  sql: SqlFunctions,
  lockToken: string,
  delayMs: number | null,
  ignoreAttempt: boolean,
): Promise<void> {
  checkLockToken("abandon_work_item", lockToken);
  await sql.call("abandon_work_item", "abandon_work_item", [
    lockToken,
    delayMs ?? 0,
    ignoreAttempt,
    sql.now(),
  ]);
}

export async function renewSessionLock(
  sql: SqlFunctions,
  ownerIds: readonly string[],
  extendForMs: number,
  idleTimeoutMs: number,
): Promise<number> {
  if (ownerIds.length === 0) return 0;
  const row = await sql.callOne<{ renew_session_lock: number }>("renew_session_lock", "renew_session_lock", [
    [...ownerIds],
    extendForMs,
    idleTimeoutMs,
    sql.now(),
  ]);
  return row?.renew_session_lock ?? 0;
}

export async function cleanupOrphanedSessions(sql: SqlFunctions, _idleTimeoutMs: number): Promise<number> {
  const row = await sql.callOne<{ cleanup_orphaned_sessions: number }>(
    "cleanup_orphaned_sessions",
    "cleanup_orphaned_sessions",
    [sql.now()],
  );
  return row?.cleanup_orphaned_sessions ?? 0;
}
