/**
 * How an instance's trace context survives restarts (docs/observability.md "Trace context"): it is
 * stored with the work, as an extra `trace_context` field of the work items and of the
 * OrchestrationStarted event. The codec keeps unknown keys as stored, and serde ignores them, so
 * nothing else reads or needs it.
 *
 *   client start span ──▶ StartOrchestration.trace_context ──▶ OrchestrationStarted.trace_context
 *   every turn span: child of OrchestrationStarted.trace_context (the instance's context)
 *   ActivityExecute / sub-orchestration StartOrchestration: .trace_context = the turn span's
 *   ContinueAsNew: .trace_context = the instance's context (the next execution stays in its trace)
 *
 * The W3C `traceparent` / `tracestate` text is written and read here, independent of whatever
 * propagator the application installed, and only when there is a valid span context to carry:
 * with no SDK registered and no stored context nothing is serialized.
 */
import {
  type Context,
  createTraceState,
  isSpanContextValid,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  trace,
} from "@opentelemetry/api";
import type { Event, OrchestrationItem, WorkItem } from "../../provider/types.ts";
import { findStarted } from "../events.ts";
import { type AckPlan, startMessage } from "../turn.ts";

/** What is stored in the `trace_context` field: W3C Trace Context headers. */
export interface TraceCarrier {
  traceparent: string;
  tracestate?: string;
}

/** The extra field, as spread into a work item or event. */
export type TraceFields = { trace_context?: TraceCarrier };

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The carrier of a span's context, or null when it has none worth carrying (tracing off). */
export function carrierOf(span: Span): TraceCarrier | null {
  const sc = span.spanContext();
  if (!isSpanContextValid(sc)) return null;
  const flags = (sc.traceFlags & 0xff).toString(16).padStart(2, "0");
  const carrier: TraceCarrier = { traceparent: `00-${sc.traceId}-${sc.spanId}-${flags}` };
  const state = sc.traceState?.serialize();
  if (state) carrier.tracestate = state;
  return carrier;
}

/** `{ trace_context }` for a span, or `{}`: spread into a work item literal. */
export function traceFields(span: Span): TraceFields {
  const carrier = carrierOf(span);
  return carrier ? { trace_context: carrier } : {};
}

/** The remote span context a stored carrier names, or null when it is missing or malformed. */
export function spanContextOf(value: unknown): SpanContext | null {
  if (typeof value !== "object" || value === null) return null;
  const { traceparent, tracestate } = value as Partial<TraceCarrier>;
  if (typeof traceparent !== "string") return null;
  const m = TRACEPARENT.exec(traceparent);
  if (!m) return null;
  const sc: SpanContext = {
    traceId: m[1] as string,
    spanId: m[2] as string,
    traceFlags: Number.parseInt(m[3] as string, 16),
    isRemote: true,
  };
  if (!isSpanContextValid(sc)) return null;
  if (typeof tracestate === "string" && tracestate !== "") sc.traceState = createTraceState(tracestate);
  return sc;
}

/** The stored value as a carrier if it names a valid span context, else null. */
export function validCarrier(value: unknown): TraceCarrier | null {
  return spanContextOf(value) ? (value as TraceCarrier) : null;
}

/** A context whose parent is the stored carrier (ROOT_CONTEXT when there is none). */
export function contextFrom(value: unknown): Context {
  const sc = spanContextOf(value);
  return sc ? trace.setSpanContext(ROOT_CONTEXT, sc) : ROOT_CONTEXT;
}

/** The `trace_context` field of a work item's payload or of an event, as stored (unchecked). */
export function storedCarrier(holder: WorkItem | Event | null | undefined): unknown {
  if (!holder) return undefined;
  const payload = "type" in holder ? holder : Object.values(holder)[0];
  return (payload as TraceFields | undefined)?.trace_context;
}

/**
 * The instance's context for a turn of `item`: the one stored with its OrchestrationStarted, else
 * (first turn) the one its start message carries.
 */
export function instanceCarrier(item: OrchestrationItem): unknown {
  const started = findStarted(item.history);
  if (started) return storedCarrier(started);
  return storedCarrier(startMessage(item.messages));
}

/**
 * Stamp what a turn is about to commit: a new OrchestrationStarted keeps the instance's context
 * (the start message's, or else this turn's, so later turns join the first turn's trace); the
 * activities and orchestrations it schedules carry the turn span's; a ContinueAsNew carries the
 * instance's. Called only when the turn span has a valid context.
 */
export function stampPlan(plan: AckPlan, instance: TraceCarrier | null, turn: TraceCarrier): void {
  for (const event of plan.delta) {
    if (event.type === "OrchestrationStarted") set(event, instance ?? turn);
  }
  for (const w of plan.workerItems) if ("ActivityExecute" in w) set(w.ActivityExecute, turn);
  for (const w of plan.orchestratorItems) {
    if ("StartOrchestration" in w) set(w.StartOrchestration, turn);
    else if ("ContinueAsNew" in w) set(w.ContinueAsNew, instance ?? turn);
  }
}

function set(target: object, carrier: TraceCarrier): void {
  const fields = target as TraceFields;
  fields.trace_context ??= carrier;
}
