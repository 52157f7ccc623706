/**
 * The wire codec: events and work items as duroxide's serde JSON (docs/store-contract.md §2).
 *
 * Encoding is `JSON.stringify` of the wire object; the text is stored verbatim and returned as is.
 * Decoding is strict in the ways serde is: an unknown `type` / variant tag, a missing required
 * field or a field of the wrong JSON type is an error (this is how corrupt rows and history written
 * by a newer engine surface). Like serde it accepts a missing optional field and tolerates unknown
 * keys.
 *
 * Since duroxide 0.1.31 events must round-trip exactly (docs/store-contract.md §2), so a decoded value is the
 * object JSON.parse gave, not a rebuilt copy: key order, unknown keys (fields a newer engine added)
 * and numbers are kept, and re-stringifying it gives back the stored text. The only changes are the
 * ones serde itself makes when reading, and they never apply to text serde (or this package) wrote:
 * a missing always-written field (`parent_instance`, `source_event_id`, `carry_forward_events` of
 * ContinueAsNew, …) is filled with its default, and an omitted-when-absent field written as `null`
 * is dropped.
 */
import type {
  AppErrorKind,
  ErrorDetails,
  Event,
  EventType,
  PoisonMessageType,
  WorkItem,
  WorkItemKind,
} from "./types.ts";

/** A payload that is not a valid event / work item. */
export class CodecError extends Error {
  override readonly name = "CodecError";
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

export function encodeEvent(event: Event): string {
  return wellFormedJson(event, "event");
}

export function encodeWorkItem(item: WorkItem): string {
  return wellFormedJson(item, "work item");
}

/**
 * JSON.stringify writes a lone UTF-16 surrogate as a lowercase `\udXXX` escape (and a literal
 * backslash as `\\`, hence the look-behind and the even run of backslashes).
 */
const LONE_SURROGATE_ESCAPE = /(?<!\\)(?:\\\\)*\\ud[89a-f][0-9a-f]{2}/;

/**
 * `JSON.stringify(value)`, refusing strings with a lone surrogate: they are not Unicode, so
 * duroxide (serde_json into Rust strings) could never read the row back. NUL is fine here: JSON
 * escapes it and serde accepts it.
 */
function wellFormedJson(value: unknown, what: string): string {
  const text = JSON.stringify(value);
  if (text.includes("\\ud") && LONE_SURROGATE_ESCAPE.test(text)) {
    throw new CodecError(`${what}: a string contains a lone UTF-16 surrogate, which is not valid Unicode`);
  }
  return text;
}

/** With the `u` flag a well-formed surrogate pair is one code point and does not match. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Why `value` cannot be stored as is in a Postgres text column (instance ids, KV keys and values,
 * custom status, output, lock tokens…), or null when it can. Postgres rejects NUL, and the driver
 * would silently turn a lone surrogate into U+FFFD (merging distinct ids).
 */
export function textColumnProblem(value: string): string | null {
  if (value.includes("\u0000")) return "contains a NUL character (U+0000), which Postgres text cannot store";
  if (LONE_SURROGATE.test(value)) return "contains a lone UTF-16 surrogate, which is not valid Unicode";
  return null;
}

/** Throw a CodecError naming `what` when a string bound for a text column cannot be stored. */
export function checkTextColumn(value: string | null | undefined, what: string): void {
  if (typeof value !== "string") return;
  const problem = textColumnProblem(value);
  if (problem) throw new CodecError(`${what} ${problem}`);
}

// ---------------------------------------------------------------------------------------------
// Field specs
// ---------------------------------------------------------------------------------------------

/**
 * How one field is read:
 *   string / u64        required
 *   string|null / u64|null   Option<T> that serde always writes; missing reads as null
 *   string?             Option<String> omitted when absent; missing or null → field left out
 *   u64?                Option<u64> omitted when absent; missing or null → field left out
 *   pairs?              Option<Vec<(String,String)>> omitted when absent
 *   pairs               Vec<(String,String)> that defaults to [] when missing
 *   u64=0               u64 that defaults to 0 when missing
 *   details             ErrorDetails
 */
type FieldSpec =
  | "string"
  | "u64"
  | "string|null"
  | "u64|null"
  | "string?"
  | "u64?"
  | "pairs?"
  | "pairs"
  | "u64=0"
  | "details";

type Fields = Readonly<Record<string, FieldSpec>>;

const EVENT_KINDS: Readonly<Record<EventType, Fields>> = {
  OrchestrationStarted: {
    name: "string",
    version: "string",
    input: "string",
    parent_instance: "string|null",
    parent_id: "u64|null",
    parent_execution_id: "u64?",
    carry_forward_events: "pairs?",
    initial_custom_status: "string?",
  },
  OrchestrationCompleted: { output: "string" },
  OrchestrationFailed: { details: "details" },
  ActivityScheduled: { name: "string", input: "string", session_id: "string?", tag: "string?" },
  ActivityCompleted: { result: "string" },
  ActivityFailed: { details: "details" },
  ActivityCancelRequested: { reason: "string" },
  TimerCreated: { fire_at_ms: "u64" },
  TimerFired: { fire_at_ms: "u64" },
  ExternalSubscribed: { name: "string" },
  ExternalEvent: { name: "string", data: "string" },
  OrchestrationChained: { name: "string", instance: "string", input: "string" },
  SubOrchestrationScheduled: { name: "string", instance: "string", input: "string" },
  SubOrchestrationCompleted: { result: "string" },
  SubOrchestrationFailed: { details: "details" },
  SubOrchestrationCancelRequested: { reason: "string" },
  OrchestrationContinuedAsNew: { input: "string" },
  OrchestrationCancelRequested: { reason: "string" },
  ExternalSubscribedCancelled: { reason: "string" },
  ExternalSubscribedPersistent: { name: "string" },
  ExternalEventPersistent: { name: "string", data: "string" },
  ExternalSubscribedPersistentCancelled: { reason: "string" },
  CustomStatusUpdated: { status: "string|null" },
  KeyValueSet: { key: "string", value: "string", last_updated_at_ms: "u64=0" },
  KeyValueCleared: { key: "string" },
  KeyValuesCleared: {},
};

const ENVELOPE: Fields = {
  event_id: "u64",
  source_event_id: "u64|null",
  instance_id: "string",
  execution_id: "u64",
  timestamp_ms: "u64",
  duroxide_version: "string",
};

const WORK_ITEM_KINDS: Readonly<Record<WorkItemKind, Fields>> = {
  StartOrchestration: {
    instance: "string",
    orchestration: "string",
    input: "string",
    version: "string|null",
    parent_instance: "string|null",
    parent_id: "u64|null",
    parent_execution_id: "u64?",
    execution_id: "u64",
  },
  ActivityExecute: {
    instance: "string",
    execution_id: "u64",
    id: "u64",
    name: "string",
    input: "string",
    session_id: "string?",
    tag: "string?",
  },
  ActivityCompleted: { instance: "string", execution_id: "u64", id: "u64", result: "string" },
  ActivityFailed: { instance: "string", execution_id: "u64", id: "u64", details: "details" },
  TimerFired: { instance: "string", execution_id: "u64", id: "u64", fire_at_ms: "u64" },
  ExternalRaised: { instance: "string", name: "string", data: "string" },
  SubOrchCompleted: {
    parent_instance: "string",
    parent_execution_id: "u64",
    parent_id: "u64",
    result: "string",
  },
  SubOrchFailed: {
    parent_instance: "string",
    parent_execution_id: "u64",
    parent_id: "u64",
    details: "details",
  },
  CancelInstance: { instance: "string", reason: "string" },
  ContinueAsNew: {
    instance: "string",
    orchestration: "string",
    input: "string",
    version: "string|null",
    parent_instance: "string?",
    parent_id: "u64?",
    parent_execution_id: "u64?",
    carry_forward_events: "pairs",
    initial_custom_status: "string?",
  },
  QueueMessage: { instance: "string", name: "string", data: "string" },
};

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isU64(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}

function parseJson(text: string, what: string): unknown {
  if (typeof text !== "string") throw new CodecError(`${what}: expected JSON text, got ${typeof text}`);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CodecError(`${what}: invalid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
}

function has(object: JsonObject, key: string): boolean {
  return Object.hasOwn(object, key) && object[key] !== undefined;
}

function readString(value: unknown, path: string): string {
  if (typeof value !== "string") throw new CodecError(`${path}: expected a string`);
  return value;
}

function readU64(value: unknown, path: string): number {
  if (!isU64(value)) throw new CodecError(`${path}: expected a non-negative integer`);
  return value;
}

function readPairs(value: unknown, path: string): [string, string][] {
  if (!Array.isArray(value)) throw new CodecError(`${path}: expected an array of [string, string]`);
  return value.map((pair, i) => {
    if (!Array.isArray(pair) || pair.length !== 2)
      throw new CodecError(`${path}[${i}]: expected [string, string]`);
    return [readString(pair[0], `${path}[${i}][0]`), readString(pair[1], `${path}[${i}][1]`)];
  });
}

/** Copy the fields of `spec` from `source` into `target`, validating and defaulting each. */
function readFields(source: JsonObject, spec: Fields, target: JsonObject, path: string): void {
  for (const [key, kind] of Object.entries(spec)) {
    const present = has(source, key);
    const value = source[key];
    const at = `${path}.${key}`;
    switch (kind) {
      case "string":
        if (!present) throw new CodecError(`${at}: missing`);
        target[key] = readString(value, at);
        break;
      case "u64":
        if (!present) throw new CodecError(`${at}: missing`);
        target[key] = readU64(value, at);
        break;
      case "string|null":
        target[key] = !present || value === null ? null : readString(value, at);
        break;
      case "u64|null":
        target[key] = !present || value === null ? null : readU64(value, at);
        break;
      case "string?":
        if (present && value !== null) target[key] = readString(value, at);
        break;
      case "u64?":
        if (present && value !== null) target[key] = readU64(value, at);
        break;
      case "pairs?":
        if (present && value !== null) target[key] = readPairs(value, at);
        break;
      case "pairs":
        target[key] = present ? readPairs(value, at) : [];
        break;
      case "u64=0":
        target[key] = present ? readU64(value, at) : 0;
        break;
      case "details":
        if (!present) throw new CodecError(`${at}: missing`);
        target[key] = readErrorDetails(value, at);
        break;
    }
  }
}

/** An externally tagged enum value: exactly one key. Returns [tag, payload]. */
function externalTag(value: unknown, path: string): [string, unknown] {
  if (!isObject(value)) throw new CodecError(`${path}: expected an object with one variant key`);
  const keys = Object.keys(value);
  if (keys.length !== 1)
    throw new CodecError(`${path}: expected exactly one variant key, got ${keys.length}`);
  const tag = keys[0] as string;
  return [tag, value[tag]];
}

function readVariantFields(payload: unknown, spec: Fields, path: string): JsonObject {
  if (!isObject(payload)) throw new CodecError(`${path}: expected an object`);
  const out: JsonObject = {};
  readFields(payload, spec, out, path);
  return out;
}

function readAppErrorKind(value: unknown, path: string): AppErrorKind {
  if (value === "ActivityFailed" || value === "OrchestrationFailed" || value === "Panicked") return value;
  const [tag, payload] = externalTag(value, path);
  if (tag !== "Cancelled") throw new CodecError(`${path}: unknown AppErrorKind ${JSON.stringify(tag)}`);
  return {
    Cancelled: readVariantFields(payload, { reason: "string" }, `${path}.Cancelled`) as { reason: string },
  };
}

const POISON_TYPES: Readonly<Record<string, Fields>> = {
  Orchestration: { instance: "string", execution_id: "u64" },
  Activity: { instance: "string", execution_id: "u64", activity_name: "string", activity_id: "u64" },
  FailedDeserialization: { instance: "string", execution_id: "u64", error: "string" },
};

function readPoisonMessageType(value: unknown, path: string): PoisonMessageType {
  const [tag, payload] = externalTag(value, path);
  const spec = POISON_TYPES[tag];
  if (!spec) throw new CodecError(`${path}: unknown PoisonMessageType ${JSON.stringify(tag)}`);
  return { [tag]: readVariantFields(payload, spec, `${path}.${tag}`) } as PoisonMessageType;
}

function readErrorDetails(value: unknown, path: string): ErrorDetails {
  const [tag, payload] = externalTag(value, path);
  const at = `${path}.${tag}`;
  switch (tag) {
    case "Infrastructure": {
      const fields = readVariantFields(payload, { operation: "string", message: "string" }, at);
      return {
        Infrastructure: {
          operation: fields.operation as string,
          message: fields.message as string,
          retryable: readBool(payload, at),
        },
      };
    }
    case "Configuration": {
      if (!isObject(payload)) throw new CodecError(`${at}: expected an object`);
      if (payload.kind !== "Nondeterminism") throw new CodecError(`${at}.kind: unknown ConfigErrorKind`);
      const fields = readVariantFields(payload, { resource: "string", message: "string|null" }, at);
      return {
        Configuration: {
          kind: "Nondeterminism",
          resource: fields.resource as string,
          message: fields.message as string | null,
        },
      };
    }
    case "Application": {
      if (!isObject(payload)) throw new CodecError(`${at}: expected an object`);
      if (!has(payload, "kind")) throw new CodecError(`${at}.kind: missing`);
      const kind = readAppErrorKind(payload.kind, `${at}.kind`);
      const fields = readVariantFields(payload, { message: "string" }, at);
      return { Application: { kind, message: fields.message as string, retryable: readBool(payload, at) } };
    }
    case "Poison": {
      if (!isObject(payload)) throw new CodecError(`${at}: expected an object`);
      const fields = readVariantFields(
        payload,
        { attempt_count: "u64", max_attempts: "u64", message: "string" },
        at,
      );
      if (!has(payload, "message_type")) throw new CodecError(`${at}.message_type: missing`);
      return {
        Poison: {
          attempt_count: fields.attempt_count as number,
          max_attempts: fields.max_attempts as number,
          message_type: readPoisonMessageType(payload.message_type, `${at}.message_type`),
          message: fields.message as string,
        },
      };
    }
    default:
      throw new CodecError(`${path}: unknown ErrorDetails variant ${JSON.stringify(tag)}`);
  }
}

function readBool(payload: unknown, path: string): boolean {
  const value = isObject(payload) ? payload.retryable : undefined;
  if (typeof value !== "boolean") throw new CodecError(`${path}.retryable: expected a boolean`);
  return value;
}

/**
 * What serde does to a field it reads, applied in place to a freshly parsed object: a missing
 * always-written field gets its default and an omitted-when-absent field written as `null` goes.
 * Neither occurs in text serde or JSON.stringify of a typed value wrote, so such text is untouched.
 */
function applySerdeDefaults(target: JsonObject, spec: Fields): void {
  for (const [key, kind] of Object.entries(spec)) {
    const present = has(target, key);
    switch (kind) {
      case "string|null":
      case "u64|null":
        if (!present) target[key] = null;
        break;
      case "pairs":
        if (!present) target[key] = [];
        break;
      case "u64=0":
        if (!present) target[key] = 0;
        break;
      case "string?":
      case "u64?":
      case "pairs?":
        if (present && target[key] === null) delete target[key];
        break;
      default:
        break;
    }
  }
}

function eventSpec(value: unknown): { event: JsonObject; type: EventType; spec: Fields } {
  if (!isObject(value)) throw new CodecError("event: expected a JSON object");
  const type = value.type;
  if (typeof type !== "string") throw new CodecError("event.type: missing or not a string");
  const spec = Object.hasOwn(EVENT_KINDS, type) ? EVENT_KINDS[type as EventType] : undefined;
  if (!spec) throw new CodecError(`event.type: unknown event type ${JSON.stringify(type)}`);
  // Validation only: the copies readFields builds are thrown away.
  readFields(value, ENVELOPE, {}, "event");
  readFields(value, spec, {}, `event(${type})`);
  return { event: value, type: type as EventType, spec };
}

function workItemSpec(value: unknown): { payload: JsonObject; spec: Fields } {
  const [tag, payload] = externalTag(value, "work item");
  const spec = Object.hasOwn(WORK_ITEM_KINDS, tag) ? WORK_ITEM_KINDS[tag as WorkItemKind] : undefined;
  if (!spec) throw new CodecError(`work item: unknown variant ${JSON.stringify(tag)}`);
  if (!isObject(payload)) throw new CodecError(`${tag}: expected an object`);
  readFields(payload, spec, {}, tag);
  return { payload, spec };
}

/**
 * Validate a value as an Event (throws CodecError). Returns the same object, unchanged: the write
 * path stores `JSON.stringify` of exactly what the runtime gave.
 */
export function eventFromJson(value: unknown): Event {
  return eventSpec(value).event as unknown as Event;
}

/** Validate a value as a WorkItem (throws CodecError). Returns the same object, unchanged. */
export function workItemFromJson(value: unknown): WorkItem {
  workItemSpec(value);
  return value as WorkItem;
}

/**
 * Strictly decode one stored event (throws CodecError). The result is the parsed object itself
 * (key order, unknown keys, every envelope field as stored), so the round trip is exact.
 */
export function decodeEvent(text: string): Event {
  const { event, spec } = eventSpec(parseJson(text, "event"));
  applySerdeDefaults(event, ENVELOPE);
  applySerdeDefaults(event, spec);
  return event as unknown as Event;
}

/** Strictly decode one stored work item (throws CodecError); the parsed object, as for events. */
export function decodeWorkItem(text: string): WorkItem {
  const parsed = parseJson(text, "work item");
  const { payload, spec } = workItemSpec(parsed);
  applySerdeDefaults(payload, spec);
  return parsed as WorkItem;
}

// ---------------------------------------------------------------------------------------------
// Helpers for routing and indexing
// ---------------------------------------------------------------------------------------------

/** The event's wire `type` (stored in history.event_type). */
export function eventType(event: Event): EventType {
  return event.type;
}

/** The work item's variant name (stored in the queues' `kind` column). */
export function workItemKind(item: WorkItem): WorkItemKind {
  const keys = Object.keys(item);
  if (keys.length !== 1 || !Object.hasOwn(WORK_ITEM_KINDS, keys[0] as string)) {
    throw new CodecError(`work item: expected exactly one known variant key, got ${JSON.stringify(keys)}`);
  }
  return keys[0] as WorkItemKind;
}

/**
 * The instance whose orchestrator queue an item goes to: the parent for sub-orchestration
 * completions, the item's own instance otherwise (docs/store-contract.md §4.1).
 */
export function orchestratorInstanceOf(item: WorkItem): string {
  if ("SubOrchCompleted" in item) return item.SubOrchCompleted.parent_instance;
  if ("SubOrchFailed" in item) return item.SubOrchFailed.parent_instance;
  const payload = Object.values(item)[0] as { instance?: unknown } | undefined;
  if (typeof payload?.instance !== "string") throw new CodecError("work item: no instance to route by");
  return payload.instance;
}
