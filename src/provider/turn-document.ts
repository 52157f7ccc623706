/**
 * The turn document: what ack_orchestration_item commits, as one named, typed JSON object
 * (`p_turn`; sql/30_orchestrator_queue/ack_orchestration_item.sql lists its fields).
 *
 * This is the ack's one validation point: buildAckTurn checks every value once (wire shapes,
 * strings bound for text columns, integer fields), names the field at fault, and the result goes
 * to Postgres without another check. A field the SQL side does not read yet is ignored there, and
 * one it reads but the document lacks is NULL, so adding a field changes this file and the
 * function's body, never the function's signature.
 */
import {
  CodecError,
  checkTextColumn,
  encodeEvent,
  encodeWorkItem,
  eventFromJson,
  orchestratorInstanceOf,
  workItemFromJson,
  workItemKind,
} from "./codec.ts";
import type {
  Event,
  EventType,
  ExecutionMetadata,
  ScheduledActivityIdentifier,
  WorkItem,
  WorkItemKind,
} from "./types.ts";

/** One turn, as the provider's ackOrchestrationItem receives it. */
export interface AckOrchestrationArgs {
  lockToken: string;
  executionId: number;
  historyDelta: Event[];
  workerItems: WorkItem[];
  orchestratorItems: WorkItem[];
  metadata: ExecutionMetadata;
  cancelledActivities: ScheduledActivityIdentifier[];
}

/** The document's keys are the SQL side's column names; payload texts are stored as given. */
export interface AckTurn {
  execution_id: number;
  events: { event_id: number; event_type: EventType; event_data: string }[];
  status?: string;
  output?: string;
  orchestration_name?: string;
  orchestration_version?: string;
  parent_instance_id?: string;
  custom_status_action?: "set" | "clear";
  custom_status?: string;
  kv_ops: {
    op: "set" | "clear_key" | "clear_all";
    key?: string;
    value?: string;
    updated_at_ms?: number;
  }[];
  worker_items: {
    work_item: string;
    instance_id: string;
    execution_id: number;
    activity_id: number;
    session_id?: string;
    tag?: string;
  }[];
  cancelled_activities: { instance_id: string; execution_id: number; activity_id: number }[];
  orchestrator_items: { kind: WorkItemKind; work_item: string; instance_id: string; fire_at_ms?: number }[];
  pinned_major?: number;
  pinned_minor?: number;
  pinned_patch?: number;
}

/** A non-negative integer a bigint / integer column takes, or a CodecError naming `what`. */
function checkCount(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new CodecError(
      `${what} must be a non-negative integer, got ${JSON.stringify(value) ?? typeof value}`,
    );
  }
  return value;
}

/** A string bound for a text column (or absent), or a CodecError naming `what`. */
function optionalText(value: unknown, what: string): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value !== "string") throw new CodecError(`${what} must be a string, got ${typeof value}`);
  checkTextColumn(value, what);
  return value;
}

/** A string bound for a text column, or a CodecError naming `what`. */
function requiredText(value: unknown, what: string): string {
  const text = optionalText(value, what);
  if (text === undefined)
    throw new CodecError(`${what} must be a string, got ${value === null ? "null" : typeof value}`);
  return text;
}

/**
 * What the ack does to the custom status: the LAST CustomStatusUpdated of the delta wins ('set' a
 * string, 'clear' on null); none → leave it alone. One of the two events the provider may read.
 */
function customStatusChange(
  delta: readonly Event[],
): Pick<AckTurn, "custom_status_action" | "custom_status"> {
  for (let i = delta.length - 1; i >= 0; i--) {
    const event = delta[i] as Event;
    if (event.type === "CustomStatusUpdated") {
      if (event.status === null) return { custom_status_action: "clear" };
      return { custom_status_action: "set", custom_status: requiredText(event.status, "custom status") };
    }
  }
  return {};
}

/** The delta's KV mutations, in history order (the other kind of event the provider may read). */
function kvOperations(delta: readonly Event[]): AckTurn["kv_ops"] {
  const ops: AckTurn["kv_ops"] = [];
  for (const event of delta) {
    if (event.type === "KeyValueSet") {
      ops.push({
        op: "set",
        key: requiredText(event.key, "KV key"),
        value: requiredText(event.value, "KV value"),
        updated_at_ms: event.last_updated_at_ms ?? 0,
      });
    } else if (event.type === "KeyValueCleared") {
      ops.push({ op: "clear_key", key: requiredText(event.key, "KV key") });
    } else if (event.type === "KeyValuesCleared") {
      ops.push({ op: "clear_all" });
    }
  }
  return ops;
}

function workerItem(item: WorkItem): AckTurn["worker_items"][number] {
  workItemFromJson(item);
  if (!("ActivityExecute" in item)) {
    throw new CodecError(`worker items must be ActivityExecute, got ${workItemKind(item)}`);
  }
  const a = item.ActivityExecute;
  checkTextColumn(a.instance, "worker item instance id");
  const sessionId = optionalText(a.session_id, "worker item session id");
  const tag = optionalText(a.tag, "worker item tag");
  return {
    work_item: encodeWorkItem(item),
    instance_id: a.instance,
    execution_id: a.execution_id,
    activity_id: a.id,
    ...(sessionId === undefined ? {} : { session_id: sessionId }),
    ...(tag === undefined ? {} : { tag }),
  };
}

function orchestratorItem(item: WorkItem): AckTurn["orchestrator_items"][number] {
  workItemFromJson(item);
  const instance = orchestratorInstanceOf(item);
  checkTextColumn(instance, "orchestrator item instance id");
  return {
    kind: workItemKind(item),
    work_item: encodeWorkItem(item),
    instance_id: instance,
    ...("TimerFired" in item ? { fire_at_ms: item.TimerFired.fire_at_ms } : {}),
  };
}

/** The metadata's fields, each checked for its text column; absent ones stay out of the document. */
function metadataFields(m: ExecutionMetadata): Partial<AckTurn> {
  const fields: Partial<AckTurn> = {};
  const status = optionalText(m.status, "metadata status");
  const output = optionalText(m.output, "metadata output");
  const name = optionalText(m.orchestrationName, "metadata orchestration name");
  const version = optionalText(m.orchestrationVersion, "metadata orchestration version");
  const parent = optionalText(m.parentInstanceId, "metadata parent instance id");
  if (status !== undefined) fields.status = status;
  if (output !== undefined) fields.output = output;
  if (name !== undefined) fields.orchestration_name = name;
  if (version !== undefined) fields.orchestration_version = version;
  if (parent !== undefined) fields.parent_instance_id = parent;
  const pinned = m.pinnedDuroxideVersion;
  if (pinned) {
    fields.pinned_major = checkCount(pinned.major, "metadata pinned version major");
    fields.pinned_minor = checkCount(pinned.minor, "metadata pinned version minor");
    fields.pinned_patch = checkCount(pinned.patch, "metadata pinned version patch");
  }
  return fields;
}

/**
 * Build and validate the turn document (throws CodecError naming the field at fault). Events and
 * work items are validated as wire values and encoded once; their texts are what gets stored.
 */
export function buildAckTurn(args: Omit<AckOrchestrationArgs, "lockToken">): AckTurn {
  const executionId = checkCount(args.executionId, "executionId");
  const events = args.historyDelta.map((event) => {
    const checked = eventFromJson(event);
    return { event_id: checked.event_id, event_type: checked.type, event_data: encodeEvent(event) };
  });
  const worker_items = args.workerItems.map(workerItem);
  const orchestrator_items = args.orchestratorItems.map(orchestratorItem);
  const metadata = metadataFields(args.metadata);
  const customStatus = customStatusChange(args.historyDelta);
  const kv_ops = kvOperations(args.historyDelta);
  const cancelled_activities = args.cancelledActivities.map((c, i) => ({
    instance_id: requiredText(c.instance, "cancelled activity instance id"),
    execution_id: checkCount(c.executionId, `cancelled activity ${i + 1} executionId`),
    activity_id: checkCount(c.activityId, `cancelled activity ${i + 1} activityId`),
  }));
  return {
    execution_id: executionId,
    events,
    ...metadata,
    ...customStatus,
    kv_ops,
    worker_items,
    cancelled_activities,
    orchestrator_items,
  };
}

/**
 * The document as `p_turn` text. JSON.stringify writes each payload text as a JSON string; a
 * validated document has no NUL and no lone surrogate outside those strings' escapes, so nothing
 * is left for the SQL layer to check.
 */
export function encodeAckTurn(turn: AckTurn): string {
  return JSON.stringify(turn);
}
