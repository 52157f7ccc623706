/**
 * The runtime's spans, through @opentelemetry/api only: the application registers an SDK (or
 * not — then every span here is the API's non-recording span and costs next to nothing).
 * Span names and attributes are listed in docs/observability.md "Spans".
 */
import { createRequire } from "node:module";
import { type Attributes, type Span, SpanKind, SpanStatusCode, type Tracer, trace } from "@opentelemetry/api";
import { contextFrom } from "./context-propagation.ts";

export const INSTRUMENTATION_NAME = "pg-durable";

/** This package's version (src/ and dist/ both sit two levels below the package root). */
export const INSTRUMENTATION_VERSION: string = (() => {
  try {
    return (createRequire(import.meta.url)("../../../package.json") as { version: string }).version;
  } catch {
    return "0.0.0";
  }
})();

/** Attribute keys (docs/observability.md). */
export const ATTR = {
  instanceId: "pg_durable.instance.id",
  executionId: "pg_durable.execution.id",
  orchestrationName: "pg_durable.orchestration.name",
  orchestrationVersion: "pg_durable.orchestration.version",
  replaying: "pg_durable.replaying",
  historyEvents: "pg_durable.history.events",
  attempt: "pg_durable.attempt",
  outcome: "pg_durable.outcome",
  activityId: "pg_durable.activity.id",
  activityName: "pg_durable.activity.name",
  workerId: "pg_durable.worker.id",
  kind: "pg_durable.kind",
  errorType: "error.type",
  queue: "pg_durable.queue",
  fetchResult: "pg_durable.fetch.result",
} as const;

/** The API's tracer: a proxy, so an SDK registered later is still picked up. */
export function tracer(): Tracer {
  return trace.getTracer(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
}

/** `start_orchestration <name>`: the client's start, a child of the caller's active span. */
export function startClientSpan(instanceId: string, name: string, version: string | null): Span {
  const attributes: Attributes = { [ATTR.instanceId]: instanceId, [ATTR.orchestrationName]: name };
  if (version) attributes[ATTR.orchestrationVersion] = version;
  return tracer().startSpan(`start_orchestration ${name}`, { kind: SpanKind.PRODUCER, attributes });
}

/** `orchestration <name>`: one turn, a child of the instance's stored context. */
export function startTurnSpan(name: string, storedContext: unknown, attributes: Attributes): Span {
  return tracer().startSpan(
    `orchestration ${name}`,
    { kind: SpanKind.CONSUMER, attributes },
    contextFrom(storedContext),
  );
}

/** `activity <name>`: one execution, a child of the turn that scheduled it. */
export function startActivitySpan(name: string, storedContext: unknown, attributes: Attributes): Span {
  return tracer().startSpan(
    `activity ${name}`,
    { kind: SpanKind.CONSUMER, attributes },
    contextFrom(storedContext),
  );
}

/** Mark a span failed with `message` (the error's display text). */
export function spanFailed(span: Span, message: string, errorType: string): void {
  span.setAttribute(ATTR.errorType, errorType);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/** Run `fn` inside `span` on a caller that has no span to give a parent of its own. */
export async function inSpan<T>(span: Span, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    spanFailed(span, error instanceof Error ? error.message : String(error), errorTypeOf(error));
    throw error;
  } finally {
    span.end();
  }
}

function errorTypeOf(error: unknown): string {
  return error instanceof Error ? error.name : "Error";
}
