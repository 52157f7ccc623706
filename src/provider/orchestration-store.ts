/**
 * Orchestrator queue, instance locks, history, custom status and KV reads.
 * Each function is one call of one PL/pgSQL function (migrations/0002 and later); this side only
 * encodes, extracts the routing fields SQL needs, and strictly decodes what comes back.
 */
import {
  CodecError,
  checkTextColumn,
  decodeEvent,
  decodeWorkItem,
  encodeEvent,
  encodeWorkItem,
  eventFromJson,
  orchestratorInstanceOf,
  textColumnProblem,
  workItemFromJson,
  workItemKind,
} from "./codec.ts";
import { ProviderError } from "./errors.ts";
import type { SqlFunctions } from "./sql.ts";
import { type AckOrchestrationArgs, buildAckTurn, encodeAckTurn } from "./turn-document.ts";
import type {
  CustomStatusChange,
  DispatcherCapabilityFilter,
  Event,
  FetchedOrchestrationItem,
  SemVer,
  WorkItem,
} from "./types.ts";

export type { AckOrchestrationArgs };

/** Run `fn`, turning a CodecError (bad input) into a permanent ProviderError of `operation`. */
function validated<T>(operation: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof CodecError) throw ProviderError.permanent(operation, error.message, error);
    throw error;
  }
}

/**
 * A token that could not even be stored cannot name a lock: report it like any unknown token
 * (docs/store-contract.md §3: `Invalid lock token`), without a round trip.
 */
export function checkLockToken(operation: string, lockToken: string): void {
  const problem = typeof lockToken === "string" ? textColumnProblem(lockToken) : "is not a string";
  if (problem) throw ProviderError.permanent(operation, `Invalid lock token: the token ${problem}`);
}

/** Refuse, as a permanent error of `operation`, strings that a text column cannot hold. */
function checkArguments(operation: string, values: Readonly<Record<string, string | null>>): void {
  validated(operation, () => {
    for (const [what, value] of Object.entries(values)) checkTextColumn(value, what);
  });
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** One stored history row as the read functions return it. */
export interface HistoryRow {
  event_id: number;
  event_data: string;
}

/**
 * Decode stored history rows, failing on the first row that is not a valid Event (a permanent
 * error: reads must never silently skip corrupt rows). For read paths (read, admin history reads).
 */
export function decodeHistoryStrict(
  operation: string,
  instance: string,
  rows: readonly HistoryRow[],
): Event[] {
  return rows.map((row) => {
    try {
      return decodeEvent(row.event_data);
    } catch (error) {
      throw ProviderError.permanent(
        operation,
        `history event ${row.event_id} of instance ${instance} cannot be decoded: ${errorMessage(error)}`,
        error,
      );
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Orchestrator queue and instance locks
// ---------------------------------------------------------------------------------------------

export async function enqueueForOrchestrator(
  sql: SqlFunctions,
  item: WorkItem,
  delayMs: number | null,
): Promise<void> {
  const op = "enqueue_for_orchestrator";
  const { kind, instance, text } = validated(op, () => {
    workItemFromJson(item);
    const instance = orchestratorInstanceOf(item);
    checkTextColumn(instance, "instance id");
    return { kind: workItemKind(item), instance, text: encodeWorkItem(item) };
  });
  const fireAtMs = "TimerFired" in item ? item.TimerFired.fire_at_ms : null;
  await sql.call(op, "enqueue_orchestrator_item", [instance, kind, text, fireAtMs, delayMs ?? 0, sql.now()]);
}

/** A version as the integer SQL compares: exact while minor and patch stay below 1000. */
export function packVersion(version: SemVer): number {
  return version.major * 1_000_000 + version.minor * 1_000 + version.patch;
}

/**
 * Lease on handover: a fetch never hands out a dead lease (docs/store-contract.md §4.2 step 3).
 * A fetch's lock runs from p_now_ms, taken before the call, but a large item reaches this process
 * only after its transfer and decoding; when those took more than this fraction of the lock
 * timeout, the lock is confirmed at once for a full timeout from now (migrations/0016), so the
 * runtime never starts a turn on a lock that expired in transit.
 * If another fetch took the item meanwhile (or the confirmation fails), the item is dropped here:
 * its lock is not ours to use, and its attempt stays counted so a never-deliverable item is
 * still poisoned eventually. Fetches of small items never pay the extra round trip.
 */
export const HANDOVER_CONFIRM_FRACTION = 0.25;

/** Whether a fetch whose lock started at `lockedAtMs` must confirm its lock before use. */
export function handoverTookLong(lockedAtMs: number, nowMs: number, lockTimeoutMs: number): boolean {
  return nowMs - lockedAtMs > lockTimeoutMs * HANDOVER_CONFIRM_FRACTION;
}

/** Confirm a just-fetched lock (see HANDOVER_CONFIRM_FRACTION); false when it is not ours any more. */
export async function confirmFetchedLock(
  sql: SqlFunctions,
  fn: "confirm_orchestration_item_lock" | "confirm_work_item_lock",
  lockToken: string,
  lockTimeoutMs: number,
): Promise<boolean> {
  const now = sql.now();
  const args =
    fn === "confirm_orchestration_item_lock"
      ? [lockToken, now, lockTimeoutMs]
      : [lockToken, lockTimeoutMs, now];
  try {
    await sql.call(fn, fn, args);
    return true;
  } catch {
    return false;
  }
}

interface FetchRow {
  instance_id: string;
  has_instance: boolean;
  orchestration_name: string | null;
  orchestration_version: string | null;
  execution_id: number | null;
  history: string[];
  messages: string[];
  message_kinds: string[];
  lock_token: string;
  attempt_count: number;
  kv_keys: string[];
  kv_values: string[];
  kv_updated_at_ms: number[];
}

/** A row of fetch_orchestration_item_or_wakeup: an item, or (instance_id null) the next wake-up. */
type FetchOrWakeupRow = FetchRow & { next_wakeup_at_ms: number | null };

/**
 * What a fetch that reports wake-ups found: the item, or when nothing was ready, the queue's next
 * wake-up as the store saw it at `nowMs` (the call's p_now_ms): `nextAtMs` null when nothing is
 * pending. `wakeup` is null with an item, and when no store call was made.
 */
export interface FetchOutcome {
  fetched: FetchedOrchestrationItem | null;
  wakeup: { nowMs: number; nextAtMs: number | null } | null;
}

/** The version range a filter passes to SQL (providers apply only its first range). */
function packedRange(filter: DispatcherCapabilityFilter | null): [number | null, number | null] {
  const range = filter?.supportedDuroxideVersions[0];
  return range ? [packVersion(range.min), packVersion(range.max)] : [null, null];
}

/** A filter without ranges matches no instance: no fetch is made for it. */
function matchesNothing(filter: DispatcherCapabilityFilter | null): boolean {
  return filter !== null && filter.supportedDuroxideVersions.length === 0;
}

/**
 * Lock the next ready instance and return its turn. Short poll: returns null at once when nothing
 * is ready (pollTimeoutMs is honoured by the provider's long-poll loop around this call).
 */
export async function fetchOrchestrationItem(
  sql: SqlFunctions,
  lockTimeoutMs: number,
  _pollTimeoutMs: number,
  filter: DispatcherCapabilityFilter | null,
): Promise<FetchedOrchestrationItem | null> {
  if (matchesNothing(filter)) return null;
  const lockedAtMs = sql.now();
  const row = await sql.callOne<FetchRow>("fetch_orchestration_item", "fetch_orchestration_item", [
    lockedAtMs,
    lockTimeoutMs,
    ...packedRange(filter),
  ]);
  return row ? await decodeFetched(sql, row, lockedAtMs, lockTimeoutMs) : null;
}

/**
 * fetchOrchestrationItem in one call of fetch_orchestration_item_or_wakeup: an empty result also
 * says when the queue's next delayed message or lock expiry falls due, so an idle slot arms its
 * wait without a next_wakeup_at query.
 */
export async function fetchOrchestrationItemOrWakeup(
  sql: SqlFunctions,
  lockTimeoutMs: number,
  filter: DispatcherCapabilityFilter | null,
): Promise<FetchOutcome> {
  if (matchesNothing(filter)) return { fetched: null, wakeup: null };
  const lockedAtMs = sql.now();
  const row = await sql.callOne<FetchOrWakeupRow>(
    "fetch_orchestration_item",
    "fetch_orchestration_item_or_wakeup",
    [lockedAtMs, lockTimeoutMs, ...packedRange(filter)],
  );
  return await fetchOutcome(sql, row, lockedAtMs, lockTimeoutMs);
}

/**
 * Commit a turn and fetch the next one in one round trip: one call of
 * ack_and_fetch_orchestration_item. The token and the turn document are validated as
 * ackOrchestrationItem validates them; when the ack fails, the call throws its error and nothing
 * was fetched (the whole call rolled back, the lock is still held).
 */
export async function ackOrchestrationItemAndFetchNext(
  sql: SqlFunctions,
  args: AckOrchestrationArgs,
  lockTimeoutMs: number,
  filter: DispatcherCapabilityFilter | null,
): Promise<FetchOutcome> {
  const op = "ack_orchestration_item";
  checkLockToken(op, args.lockToken);
  const turn = validated(op, () => encodeAckTurn(buildAckTurn(args)));
  if (matchesNothing(filter)) {
    await sql.call(op, "ack_orchestration_item", [args.lockToken, sql.now(), turn], { validated: true });
    return { fetched: null, wakeup: null };
  }
  const lockedAtMs = sql.now();
  const rows = await sql.call<FetchOrWakeupRow>(
    "ack_and_fetch_orchestration_item",
    "ack_and_fetch_orchestration_item",
    [args.lockToken, lockedAtMs, turn, lockTimeoutMs, ...packedRange(filter)],
    { validated: true },
  );
  return await fetchOutcome(sql, rows[0], lockedAtMs, lockTimeoutMs);
}

async function fetchOutcome(
  sql: SqlFunctions,
  row: FetchOrWakeupRow | undefined,
  lockedAtMs: number,
  lockTimeoutMs: number,
): Promise<FetchOutcome> {
  if (!row) return { fetched: null, wakeup: null }; // not expected: the function always returns a row
  if (row.instance_id === null) {
    return { fetched: null, wakeup: { nowMs: lockedAtMs, nextAtMs: row.next_wakeup_at_ms } };
  }
  return { fetched: await decodeFetched(sql, row, lockedAtMs, lockTimeoutMs), wakeup: null };
}

/**
 * Decode a fetched row. Once the SQL function returned a row the lock is held and the attempt
 * counted, so nothing here may throw: undecodable history or messages are reported through
 * `historyError` (history []), which sends the instance down the runtime's retry-then-poison path
 * instead of stalling fetches. Null when the lock had to be confirmed and was not ours any more.
 */
async function decodeFetched(
  sql: SqlFunctions,
  row: FetchRow,
  lockedAtMs: number,
  lockTimeoutMs: number,
): Promise<FetchedOrchestrationItem | null> {
  const errors: string[] = [];
  const messages: WorkItem[] = [];
  row.messages.forEach((text, i) => {
    try {
      messages.push(decodeWorkItem(text));
    } catch (error) {
      errors.push(
        `message ${i + 1} of the batch (${row.message_kinds[i]}) cannot be decoded: ${errorMessage(error)}`,
      );
    }
  });
  let history: Event[] = [];
  try {
    history = row.history.map(decodeEvent);
  } catch (error) {
    errors.push(`history of instance ${row.instance_id} cannot be decoded: ${errorMessage(error)}`);
  }

  let name = row.orchestration_name;
  let version = row.orchestration_version;
  let executionId = row.execution_id;
  if (!row.has_instance) {
    // No metadata yet: the batch's start (or continue-as-new) names the orchestration, else the
    // OrchestrationStarted of stored history (executions acked without metadata).
    const start = messages.find((m) => "StartOrchestration" in m || "ContinueAsNew" in m);
    const started = history[0]?.type === "OrchestrationStarted" ? history[0] : undefined;
    if (start && "StartOrchestration" in start) {
      name = start.StartOrchestration.orchestration;
      version = start.StartOrchestration.version;
      executionId ??= start.StartOrchestration.execution_id;
    } else if (start && "ContinueAsNew" in start) {
      name = start.ContinueAsNew.orchestration;
      version = start.ContinueAsNew.version;
    } else if (started) {
      name = started.name;
      version = started.version;
    }
  }

  const historyError = errors.length > 0 ? errors.join("; ") : null;
  if (
    handoverTookLong(lockedAtMs, sql.now(), lockTimeoutMs) &&
    !(await confirmFetchedLock(sql, "confirm_orchestration_item_lock", row.lock_token, lockTimeoutMs))
  ) {
    return null;
  }
  return {
    item: {
      instance: row.instance_id,
      orchestrationName: name ?? "Unknown",
      executionId: executionId ?? 1,
      version: version ?? "unknown",
      history: historyError === null ? history : [],
      messages,
      historyError,
      kvSnapshot: new Map(
        row.kv_keys.map((key, i) => [
          key,
          { value: row.kv_values[i] as string, lastUpdatedAtMs: row.kv_updated_at_ms[i] ?? 0 },
        ]),
      ),
    },
    lockToken: row.lock_token,
    attemptCount: row.attempt_count,
  };
}

/**
 * Commit a turn: the token and the turn document are validated here, once (turn-document.ts), and
 * sent as they are: one call of ack_orchestration_item(p_lock_token, p_now_ms, p_turn).
 */
export async function ackOrchestrationItem(sql: SqlFunctions, args: AckOrchestrationArgs): Promise<void> {
  const op = "ack_orchestration_item";
  checkLockToken(op, args.lockToken);
  const turn = validated(op, () => encodeAckTurn(buildAckTurn(args)));
  await sql.call(op, "ack_orchestration_item", [args.lockToken, sql.now(), turn], { validated: true });
}

export async function abandonOrchestrationItem(
  sql: SqlFunctions,
  lockToken: string,
  delayMs: number | null,
  ignoreAttempt: boolean,
): Promise<void> {
  checkLockToken("abandon_orchestration_item", lockToken);
  await sql.call("abandon_orchestration_item", "abandon_orchestration_item", [
    lockToken,
    sql.now(),
    delayMs ?? 0,
    ignoreAttempt,
  ]);
}

export async function renewOrchestrationItemLock(
  sql: SqlFunctions,
  lockToken: string,
  extendForMs: number,
): Promise<void> {
  checkLockToken("renew_orchestration_item_lock", lockToken);
  await sql.call("renew_orchestration_item_lock", "renew_orchestration_item_lock", [
    lockToken,
    sql.now(),
    extendForMs,
  ]);
}

// ---------------------------------------------------------------------------------------------
// History
// ---------------------------------------------------------------------------------------------

export async function read(sql: SqlFunctions, instance: string): Promise<Event[]> {
  checkArguments("read", { "instance id": instance });
  const rows = await sql.call<HistoryRow>("read", "read_history", [instance]);
  return decodeHistoryStrict("read", instance, rows);
}

export async function readWithExecution(
  sql: SqlFunctions,
  instance: string,
  executionId: number,
): Promise<Event[]> {
  const op = "read_with_execution";
  checkArguments(op, { "instance id": instance });
  const rows = await sql.call<HistoryRow>(op, "read_history_with_execution", [instance, executionId]);
  return decodeHistoryStrict(op, instance, rows);
}

export async function appendWithExecution(
  sql: SqlFunctions,
  instance: string,
  executionId: number,
  events: Event[],
): Promise<void> {
  const op = "append_with_execution";
  const { checked, texts } = validated(op, () => {
    checkTextColumn(instance, "instance id");
    return { checked: events.map((event) => eventFromJson(event)), texts: events.map(encodeEvent) };
  });
  await sql.call(op, "append_history", [
    instance,
    executionId,
    checked.map((e) => e.event_id),
    checked.map((e) => e.type),
    texts,
    sql.now(),
  ]);
}

// ---------------------------------------------------------------------------------------------
// Custom status and KV reads
// ---------------------------------------------------------------------------------------------

export async function getCustomStatus(
  sql: SqlFunctions,
  instance: string,
  lastSeenVersion: number,
): Promise<CustomStatusChange | null> {
  checkArguments("get_custom_status", { "instance id": instance });
  const row = await sql.callOne<{ custom_status: string | null; custom_status_version: number }>(
    "get_custom_status",
    "get_custom_status",
    [instance, lastSeenVersion],
  );
  return row ? { customStatus: row.custom_status, version: row.custom_status_version } : null;
}
export async function getKvValue(sql: SqlFunctions, instance: string, key: string): Promise<string | null> {
  checkArguments("get_kv_value", { "instance id": instance, "KV key": key });
  const row = await sql.callOne<{ value: string }>("get_kv_value", "get_kv_value", [instance, key]);
  return row?.value ?? null;
}

export async function getKvAllValues(sql: SqlFunctions, instance: string): Promise<Map<string, string>> {
  checkArguments("get_kv_all_values", { "instance id": instance });
  const rows = await sql.call<{ key: string; value: string }>("get_kv_all_values", "get_kv_all_values", [
    instance,
  ]);
  return new Map(rows.map((r) => [r.key, r.value]));
}
