/**
 * readExecutionHistory's events as duroxide-node returns them: `{ eventId, kind, sourceEventId?,
 * timestampMs, data? }`. `kind` is the name duroxide-node prints (the Rust variant name, which
 * differs from the stored `type` for the three persistent-queue events); `data` is a JSON text
 * with the event's payload for the kinds duroxide-node describes, and absent for the others.
 */
import type { Event } from "../provider/types.ts";

export interface JsEvent {
  eventId: number;
  kind: string;
  sourceEventId?: number;
  timestampMs: number;
  data?: string;
}

/** Stored type → duroxide-node's kind, where they differ. */
const KIND_NAMES: Partial<Record<Event["type"], string>> = {
  ExternalSubscribedPersistent: "QueueSubscribed",
  ExternalEventPersistent: "QueueEventDelivered",
  ExternalSubscribedPersistentCancelled: "QueueSubscriptionCancelled",
};

export function historyEvent(event: Event): JsEvent {
  const shaped: JsEvent = {
    eventId: event.event_id,
    kind: KIND_NAMES[event.type] ?? event.type,
    timestampMs: event.timestamp_ms,
  };
  if (event.source_event_id !== null && event.source_event_id !== undefined) {
    shaped.sourceEventId = event.source_event_id;
  }
  const data = eventData(event);
  if (data !== undefined) shaped.data = data;
  return shaped;
}

/**
 * Payload fields that are themselves JSON texts (inputs, results, event data) are embedded as
 * JSON, not as strings; the rest are encoded.
 */
function eventData(e: Event): string | undefined {
  const str = JSON.stringify;
  switch (e.type) {
    case "OrchestrationStarted":
      return `{"name":${str(e.name)},"version":${str(e.version)},"input":${embedded(e.input)}}`;
    case "OrchestrationCompleted":
      return e.output;
    case "ActivityCompleted":
    case "SubOrchestrationCompleted":
      return e.result;
    case "OrchestrationFailed":
    case "ActivityFailed":
    case "SubOrchestrationFailed":
      return str(e.details);
    case "ActivityScheduled":
      return `{"name":${str(e.name)},"input":${embedded(e.input)}}`;
    case "TimerCreated":
    case "TimerFired":
      return str({ fireAtMs: e.fire_at_ms });
    case "ExternalSubscribed":
    case "ExternalSubscribedPersistent":
      return str({ name: e.name });
    case "ExternalEvent":
    case "ExternalEventPersistent":
      return `{"name":${str(e.name)},"data":${embedded(e.data)}}`;
    case "SubOrchestrationScheduled":
      return `{"name":${str(e.name)},"instance":${str(e.instance)},"input":${embedded(e.input)}}`;
    case "ExternalSubscribedPersistentCancelled":
      return str({ reason: e.reason });
    default:
      return undefined;
  }
}

/**
 * A stored JSON text placed inside a JSON object. duroxide-node splices it in as is; text that is
 * not JSON (written by other tools) is encoded as a string here so `data` always parses.
 */
function embedded(text: string): string {
  try {
    JSON.parse(text);
    return text;
  } catch {
    return JSON.stringify(text);
  }
}
