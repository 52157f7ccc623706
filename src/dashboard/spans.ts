/**
 * The timeline of one execution: each durable operation of its history (activity, timer,
 * sub-orchestration, external event wait) as one span from the event that started it to the event
 * that closed it, paired by the closing event's source_event_id (docs/replay-rules.md). A span
 * whose closing event is not in the history is "pending" with endMs null, also when the execution
 * has ended without it.
 */
import type { ErrorDetails, Event, EventType } from "../provider/types.ts";
import { displayError } from "../runtime/errors.ts";

export type SpanKind = "activity" | "timer" | "subOrchestration" | "externalEvent";
export type SpanOutcome = "completed" | "failed" | "cancelled" | "pending";

export interface Span {
  kind: SpanKind;
  name: string;
  startMs: number;
  endMs: number | null;
  outcome: SpanOutcome;
  scheduledEventId: number;
  /** The event that closed the span (null while pending). */
  closedEventId: number | null;
  /** A failure's display string. */
  error?: string;
  /** A timer's due time. */
  fireAtMs?: number;
  /** A sub-orchestration's instance id. */
  childInstanceId?: string;
}

/** What closes a span of each opening event type, and with which outcome. */
const CLOSERS: Partial<Record<EventType, SpanOutcome>> = {
  ActivityCompleted: "completed",
  ActivityFailed: "failed",
  ActivityCancelRequested: "cancelled",
  TimerFired: "completed",
  SubOrchestrationCompleted: "completed",
  SubOrchestrationFailed: "failed",
  SubOrchestrationCancelRequested: "cancelled",
  ExternalEvent: "completed",
  ExternalSubscribedCancelled: "cancelled",
  ExternalEventPersistent: "completed",
  ExternalSubscribedPersistentCancelled: "cancelled",
};

function opening(event: Event): Omit<Span, "endMs" | "outcome" | "closedEventId"> | null {
  const base = { startMs: event.timestamp_ms, scheduledEventId: event.event_id };
  switch (event.type) {
    case "ActivityScheduled":
      return { kind: "activity", name: event.name, ...base };
    case "TimerCreated":
      return { kind: "timer", name: "timer", fireAtMs: event.fire_at_ms, ...base };
    case "SubOrchestrationScheduled":
      return { kind: "subOrchestration", name: event.name, childInstanceId: event.instance, ...base };
    case "ExternalSubscribed":
    case "ExternalSubscribedPersistent":
      return { kind: "externalEvent", name: event.name, ...base };
    default:
      return null;
  }
}

export function historySpans(events: readonly Event[]): Span[] {
  const spans: Span[] = [];
  const open = new Map<number, Span>();
  for (const event of events) {
    const started = opening(event);
    if (started) {
      const span: Span = { ...started, endMs: null, outcome: "pending", closedEventId: null };
      spans.push(span);
      open.set(event.event_id, span);
      continue;
    }
    const outcome = CLOSERS[event.type];
    if (outcome === undefined || event.source_event_id === null) continue;
    const span = open.get(event.source_event_id);
    if (!span) continue;
    // A cancel request closes the span only if nothing else does: a result may still arrive after it.
    if (outcome !== "cancelled") open.delete(event.source_event_id);
    span.endMs = event.timestamp_ms;
    span.outcome = outcome;
    span.closedEventId = event.event_id;
    if (outcome === "failed" && "details" in event) span.error = displayError(event.details as ErrorDetails);
  }
  return spans;
}
