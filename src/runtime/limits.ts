/**
 * Size and shape limits on what the client and the runtime hand to the store (docs/limits.md).
 *
 * Two kinds:
 * - Budgets (configurable, `ClientOptions.limits` / `RuntimeOptions.limits`): the encoded size of
 *   one payload, the encoded size of one execution's history, and JSON nesting depth. They keep
 *   every fetch far shorter than the lock it is fetched under (a fetch transfers the whole current
 *   history plus the batch; see docs/limits.md for the measurement behind the defaults).
 * - Indexed fields (fixed): ids and names the store keeps in text columns, most of them in btree
 *   indexes. Postgres cannot store NUL, the driver would turn a lone surrogate into U+FFFD, and a
 *   btree entry may not exceed 2704 bytes on 8 kB pages, so these are checked before anything is
 *   written instead of failing (forever) inside the store.
 */
import { textColumnProblem } from "../provider/codec.ts";
import type { Event, OrchestrationItem } from "../provider/types.ts";
import type { AckPlan } from "./turn.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

export interface PayloadLimits {
  /** Largest encoded (UTF-8 JSON) input, result, output, event or queue payload. */
  maxPayloadBytes: number;
  /** Largest encoded history of one execution (the sum of its events' JSON). */
  maxHistoryBytes: number;
  /** Deepest nesting of arrays/objects in a payload. */
  maxJsonDepth: number;
}

/**
 * Defaults. Measured here (docs/limits.md): fetching an instance whose start input is 1 MiB took
 * ~0.2 s, 4 MiB ~0.7–1.1 s, 16 MiB 3.2–3.9 s, on a loaded 2-core machine against the 5 s default
 * orchestrator lock. A turn fetches history + batch, so history and payload budgets together bound
 * a fetch to ~5 MiB: about a fifth of the lock, a wide margin.
 */
export const DEFAULT_LIMITS: Readonly<PayloadLimits> = Object.freeze({
  maxPayloadBytes: 1 * MiB,
  maxHistoryBytes: 4 * MiB,
  maxJsonDepth: 512,
});

/** Thrown (client) or recorded as the failure (runtime) when a payload or field is over a limit. */
export class LimitError extends RangeError {
  override readonly name = "LimitError";
}

export function resolveLimits(partial: Partial<PayloadLimits> = {}): PayloadLimits {
  const limits = { ...DEFAULT_LIMITS, ...partial };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isInteger(value) || value < 1)
      throw new RangeError(`limits.${name} must be a positive integer, got ${value}`);
  }
  return limits;
}

export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/** Throw a LimitError when the encoded payload `text` is larger than maxPayloadBytes. */
export function checkPayloadSize(text: string, what: string, limits: PayloadLimits): void {
  // Quick exit: a UTF-8 encoding is at most 3 bytes per UTF-16 unit.
  if (text.length * 3 <= limits.maxPayloadBytes) return;
  const size = utf8Bytes(text);
  if (size > limits.maxPayloadBytes) throw new LimitError(payloadTooLarge(what, size, limits));
}

export function payloadTooLarge(what: string, size: number, limits: PayloadLimits): string {
  return `${what} is ${size} bytes encoded, over the payload limit maxPayloadBytes = ${limits.maxPayloadBytes} bytes`;
}

// ---------------------------------------------------------------------------------------------
// Indexed fields
// ---------------------------------------------------------------------------------------------

/**
 * Largest UTF-8 size of each field, in bytes. A btree index entry holds at most 2704 bytes
 * (8-byte tuple header + MAXALIGNed data); a text value over 126 bytes carries a 4-byte header.
 * The widest index of each field (migrations/0001, 0005, 0008, 0009) gives its hard maximum:
 *
 *   instance id   history_pkey (instance_id, execution_id, event_id): 8 + align8(4 + n) + 16 ≤ 2704
 *                 → n ≤ 2676; kv_store_pkey (instance_id, key) shares the 2704 bytes with the key
 *   KV key        kv_store_pkey / kv_delta_pkey (instance_id, key), with the instance id
 *   session id    sessions_pkey, worker_queue_session_idx (session_id) → n ≤ 2692
 *   tag           worker_queue_tag_idx (tag, id) → n ≤ 2684; duroxide's own limit is 256 bytes
 *   names         orchestration name/version, activity, event and queue names are in no index;
 *                 bounded so the many events that repeat them stay small
 *
 * The chosen limits leave room: instance id + KV key = 2048 < 2676, and a child id
 * (`<parent>::sub::<n>`) of a maximal parent is still far inside history_pkey.
 */
export const INDEXED_FIELD_LIMITS = {
  "instance id": 1024,
  "KV key": 1024,
  "session id": 1024,
  tag: 256,
  "orchestration name": 1024,
  "orchestration version": 1024,
  "activity name": 1024,
  "event name": 1024,
  "queue name": 1024,
} as const;

export type IndexedField = keyof typeof INDEXED_FIELD_LIMITS;

/** Why `value` cannot be stored as field `field` (characters or size), or null when it can. */
export function indexedFieldProblem(value: string, field: IndexedField): string | null {
  const problem = textColumnProblem(value);
  if (problem) return `${field} ${problem}`;
  const limit = INDEXED_FIELD_LIMITS[field];
  if (value.length * 3 > limit) {
    const size = utf8Bytes(value);
    if (size > limit) return `${field} is ${size} bytes (UTF-8), over its limit of ${limit} bytes`;
  }
  return null;
}

/** Throw a LimitError when `value` is not a storable `field`. Empty strings are the caller's call. */
export function checkIndexedField(value: string, field: IndexedField): void {
  const problem = indexedFieldProblem(value, field);
  if (problem) throw new LimitError(problem);
}

// ---------------------------------------------------------------------------------------------
// A turn's writes, checked before its ack
// ---------------------------------------------------------------------------------------------

/** Fields of events and work items that are ids or names, by JSON key (others are payloads). */
const FIELD_KINDS: Readonly<Record<string, IndexedField | "skip">> = {
  instance: "instance id",
  instance_id: "instance id",
  parent_instance: "instance id",
  key: "KV key",
  session_id: "session id",
  tag: "tag",
  version: "orchestration version",
  duroxide_version: "skip",
  type: "skip",
};

function nameKind(owner: string): IndexedField {
  if (owner === "ActivityScheduled" || owner === "ActivityExecute") return "activity name";
  if (/Orchestration|ContinueAsNew/.test(owner)) return "orchestration name";
  return "event name";
}

/**
 * The first field of `fields` (an event, or the body of a work item variant `owner`) that cannot
 * be stored: an id/name that is unstorable or too long, or a payload over maxPayloadBytes.
 */
function fieldViolation(owner: string, fields: object, limits: PayloadLimits): string | null {
  for (const [key, value] of Object.entries(fields)) {
    if (value === null || value === undefined || typeof value === "number" || typeof value === "boolean")
      continue;
    const kind = key === "name" ? nameKind(owner) : FIELD_KINDS[key];
    if (kind === "skip") continue;
    if (kind && typeof value === "string") {
      const problem = indexedFieldProblem(value, kind);
      if (problem) return `${owner}.${key}: ${problem}`;
      continue;
    }
    // A payload string, or structured data (error details, carried-forward events) as stored.
    const text = typeof value === "string" ? value : JSON.stringify(value);
    if (text.length * 3 > limits.maxPayloadBytes) {
      const size = utf8Bytes(text);
      if (size > limits.maxPayloadBytes) return payloadTooLarge(`${owner}.${key}`, size, limits);
    }
  }
  return null;
}

/** Encoded size of events, exact only when the cheap upper bound is over `limit`. */
function historyBytes(events: readonly Event[], limit: number): number {
  const texts = events.map((e) => JSON.stringify(e));
  const upperBound = texts.reduce((sum, t) => sum + t.length * 3, 0);
  if (upperBound <= limit) return upperBound;
  return texts.reduce((sum, t) => sum + utf8Bytes(t), 0);
}

/**
 * Why the turn `plan` of `item` must not be acked as planned (a limit it would break), or null.
 * Checked before the ack so nothing over a limit is ever written; the caller fails the
 * orchestration with this message instead (a retry would break the same limit again).
 */
export function turnLimitViolation(
  item: OrchestrationItem,
  plan: AckPlan,
  limits: PayloadLimits,
): string | null {
  for (const event of plan.delta) {
    const problem = fieldViolation(event.type, event, limits);
    if (problem) return `event ${event.event_id} (${problem})`;
  }
  for (const work of [...plan.workerItems, ...plan.orchestratorItems]) {
    const [variant, body] = Object.entries(work)[0] as [string, object];
    const problem = fieldViolation(variant, body, limits);
    if (problem) return `message ${variant} (${problem})`;
  }
  if (plan.delta.length > 0) {
    const persisted = plan.executionId === item.executionId ? item.history : [];
    const size = historyBytes([...persisted, ...plan.delta], limits.maxHistoryBytes);
    if (size > limits.maxHistoryBytes) {
      return (
        `history of execution ${plan.executionId} would be ${size} bytes encoded, over the history ` +
        `limit maxHistoryBytes = ${limits.maxHistoryBytes} bytes (use continue-as-new to start a fresh history)`
      );
    }
  }
  return null;
}
