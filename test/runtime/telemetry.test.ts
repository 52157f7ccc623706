/**
 * OpenTelemetry end to end (docs/observability.md): with an SDK registered (in-memory exporters),
 * a client start, every turn and every activity of the instance — across a runtime restart and into
 * a sub-orchestration — form one trace, parented through the context stored with the work; the
 * metrics are recorded; and without an SDK nothing is stored.
 */
import { context, metrics, type SpanContext, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Event } from "../../src/provider/types.ts";
import type { Runtime } from "../../src/runtime/runtime.ts";
import { METRIC } from "../../src/runtime/telemetry/metrics.ts";
import { ATTR } from "../../src/runtime/telemetry/tracer.ts";
import { createHarness, eventually, type Harness } from "./harness.ts";

let h: Harness;
const spans = new InMemorySpanExporter();
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({
  exporter: metricExporter,
  exportIntervalMillis: 3_600_000,
});
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
const meterProvider = new MeterProvider({ readers: [reader] });
const contextManager = new AsyncLocalStorageContextManager();

function register(runtime: Runtime): Runtime {
  runtime.registerActivity("Step", async (_ctx, n: number) => {
    // Spans the activity's own code opens are children of the activity span.
    trace.getTracer("app").startSpan("inside step").end();
    return n + 1;
  });
  runtime.registerOrchestration("Child", function* (ctx, n: number) {
    return yield ctx.scheduleActivity("Step", n);
  });
  runtime.registerOrchestration("Traced", function* (ctx) {
    const a: number = yield ctx.scheduleActivity("Step", 1);
    yield ctx.waitForEvent("go");
    const b: number = yield ctx.scheduleActivity("Step", a);
    const c: number = yield ctx.scheduleSubOrchestration("Child", b);
    return c;
  });
  return runtime;
}

beforeAll(async () => {
  context.setGlobalContextManager(contextManager.enable());
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  h = await createHarness("rt_otel");
});

afterAll(async () => {
  await h?.close();
  trace.disable();
  metrics.disable();
  context.disable();
  await tracerProvider.shutdown();
  await meterProvider.shutdown();
});

const named = (prefix: string) => spans.getFinishedSpans().filter((s) => s.name.startsWith(prefix));
const parentOf = (s: ReadableSpan): SpanContext | undefined => s.parentSpanContext;
const attr = (s: ReadableSpan, key: string) => s.attributes[key];
const startedEvent = (history: Event[]) => history.find((e) => e.type === "OrchestrationStarted");

describe("traces", () => {
  it("parents every turn on the client's start span and every activity on its turn, across a restart", async () => {
    const first = register(h.runtime({ queueDepthIntervalMs: 0 }));
    await first.start();
    await h.client.startOrchestration("otel-1", "Traced");
    await eventually(async () => (await h.history("otel-1")).some((e) => e.type === "ExternalSubscribed"));
    await first.shutdown(2000); // a restart mid-instance: the rest runs on another runtime

    const second = register(h.runtime({ queueDepthIntervalMs: 0 }));
    await second.start();
    await h.client.raiseEvent("otel-1", "go");
    const done = await h.client.waitForOrchestration("otel-1", 30_000);
    expect(done).toMatchObject({ status: "Completed", output: 4 });

    const [client] = named("start_orchestration Traced");
    expect(client).toBeDefined();
    const traceId = client!.spanContext().traceId;
    expect(attr(client!, ATTR.instanceId)).toBe("otel-1");

    // The context is stored with the instance, so it survives the restart.
    const started = startedEvent(await h.history("otel-1")) as { trace_context?: { traceparent: string } };
    expect(started.trace_context?.traceparent).toBe(`00-${traceId}-${client!.spanContext().spanId}-01`);

    const turns = named("orchestration Traced");
    expect(turns.length).toBeGreaterThanOrEqual(4); // start, after step 1, after the event, after step 2, after the child
    for (const t of turns) {
      expect(t.spanContext().traceId).toBe(traceId);
      expect(parentOf(t)?.spanId).toBe(client!.spanContext().spanId);
      expect(attr(t, ATTR.instanceId)).toBe("otel-1");
      expect(attr(t, ATTR.orchestrationName)).toBe("Traced");
      expect(attr(t, ATTR.executionId)).toBe(1);
      expect(attr(t, ATTR.orchestrationVersion)).toBe("1.0.0");
    }
    // The first turn runs new code only; later turns replay their history first.
    const byStart = [...turns].sort((a, b) => hr(a.startTime) - hr(b.startTime));
    expect(byStart[0]!.attributes[ATTR.replaying]).toBe(false);
    expect(byStart.slice(1).every((t) => t.attributes[ATTR.replaying] === true)).toBe(true);

    const turnIds = new Set(turns.map((t) => t.spanContext().spanId));
    const parentSteps = named("activity Step").filter((s) => attr(s, ATTR.instanceId) === "otel-1");
    expect(parentSteps).toHaveLength(2);
    for (const s of parentSteps) {
      expect(s.spanContext().traceId).toBe(traceId);
      expect(turnIds.has(parentOf(s)!.spanId)).toBe(true);
      expect(attr(s, ATTR.activityName)).toBe("Step");
      expect(attr(s, ATTR.outcome)).toBe("completed");
    }
    // The activity's code runs with its span active.
    const inside = named("inside step");
    expect(inside.length).toBeGreaterThanOrEqual(3);
    const activityIds = new Set(named("activity Step").map((s) => s.spanContext().spanId));
    for (const s of inside) expect(activityIds.has(parentOf(s)!.spanId)).toBe(true);

    // The sub-orchestration's turns descend from the parent turn that scheduled it.
    const childTurns = named("orchestration Child");
    expect(childTurns.length).toBeGreaterThanOrEqual(2);
    const childTurnIds = new Set(childTurns.map((t) => t.spanContext().spanId));
    for (const t of childTurns) {
      expect(t.spanContext().traceId).toBe(traceId);
      expect(turnIds.has(parentOf(t)!.spanId)).toBe(true);
    }
    const childStep = named("activity Step").find((s) => attr(s, ATTR.instanceId) !== "otel-1");
    expect(childTurnIds.has(parentOf(childStep!)!.spanId)).toBe(true);
    await second.shutdown(2000);
  });

  it("makes a start without a traced caller the root of its own trace, which later turns join", async () => {
    const rt = register(h.runtime());
    await rt.start();
    // A span for the caller: the client's start span is its child, in its trace.
    const caller = trace.getTracer("app").startSpan("request");
    await context.with(trace.setSpan(context.active(), caller), () =>
      h.client.startOrchestration("otel-2", "Child", 5),
    );
    caller.end();
    expect(await h.client.waitForOrchestration("otel-2", 30_000)).toMatchObject({ output: 6 });
    const start = named("start_orchestration Child").find((s) => attr(s, ATTR.instanceId) === "otel-2")!;
    expect(parentOf(start)?.spanId).toBe(caller.spanContext().spanId);
    const turns = named("orchestration Child").filter((s) => attr(s, ATTR.instanceId) === "otel-2");
    expect(turns.length).toBeGreaterThanOrEqual(2);
    for (const t of turns) expect(t.spanContext().traceId).toBe(caller.spanContext().traceId);
    await rt.shutdown(2000);
  });

  it("marks a failed activity's span and the failed turn's span as errors", async () => {
    const rt = h.runtime();
    rt.registerActivity("Boom", async () => {
      throw new Error("kaboom");
    });
    rt.registerOrchestration("Failing", function* (ctx) {
      yield ctx.scheduleActivity("Boom", null);
    });
    await rt.start();
    await h.client.startOrchestration("otel-3", "Failing");
    expect(await h.client.waitForOrchestration("otel-3", 30_000)).toMatchObject({ status: "Failed" });
    const boom = named("activity Boom")[0]!;
    expect(boom.status).toMatchObject({ code: 2, message: "kaboom" });
    expect(attr(boom, ATTR.outcome)).toBe("failed");
    await eventually(async () =>
      named("orchestration Failing").some((t) => attr(t, ATTR.outcome) === "failed"),
    );
    const failed = named("orchestration Failing").find((t) => attr(t, ATTR.outcome) === "failed")!;
    expect(failed.status.code).toBe(2);
    expect(attr(failed, "error.type")).toBe("application");
    await rt.shutdown(2000);
  });
});

describe("metrics", () => {
  it("records starts, completions, failures, turn and activity durations, fetch and ack latency and queue depths", async () => {
    await reader.forceFlush();
    const exported = metricExporter.getMetrics();
    const all: MetricData[] = exported.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
    // Cumulative: the last export holds the totals.
    const latest = (name: string) => all.filter((m) => m.descriptor.name === name).at(-1);
    const sum = (name: string, attrs: Record<string, string>) =>
      (latest(name)?.dataPoints ?? [])
        .filter((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v))
        .reduce((n, p) => n + (p.value as number), 0);

    expect(sum(METRIC.starts, { [ATTR.kind]: "orchestration" })).toBeGreaterThanOrEqual(4); // otel-1, its child, otel-2, otel-3
    expect(sum(METRIC.completions, { [ATTR.kind]: "orchestration" })).toBeGreaterThanOrEqual(3);
    expect(sum(METRIC.failures, { [ATTR.kind]: "orchestration", "error.type": "application" })).toBe(1);
    expect(sum(METRIC.starts, { [ATTR.kind]: "activity" })).toBeGreaterThanOrEqual(5);
    expect(sum(METRIC.completions, { [ATTR.kind]: "activity" })).toBeGreaterThanOrEqual(4);
    expect(sum(METRIC.failures, { [ATTR.kind]: "activity", "error.type": "application" })).toBe(1);

    const count = (name: string, attrs: Record<string, string> = {}) =>
      (latest(name)?.dataPoints ?? [])
        .filter((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v))
        .reduce((n, p) => n + (p.value as { count: number }).count, 0);
    expect(count(METRIC.turnDuration, { [ATTR.orchestrationName]: "Traced" })).toBeGreaterThanOrEqual(4);
    expect(count(METRIC.activityDuration, { [ATTR.activityName]: "Step" })).toBeGreaterThanOrEqual(4);
    expect(
      count(METRIC.fetchDuration, { [ATTR.queue]: "orchestrator", [ATTR.fetchResult]: "item" }),
    ).toBeGreaterThan(0);
    expect(
      count(METRIC.fetchDuration, { [ATTR.queue]: "worker", [ATTR.fetchResult]: "item" }),
    ).toBeGreaterThan(0);
    expect(count(METRIC.ackDuration, { [ATTR.queue]: "orchestrator", [ATTR.outcome]: "ok" })).toBeGreaterThan(
      0,
    );
    expect(count(METRIC.ackDuration, { [ATTR.queue]: "worker", [ATTR.outcome]: "ok" })).toBeGreaterThan(0);
  });

  it("reports queue depths read from the store while a runtime runs", async () => {
    const rt = h.runtime({ orchestrationConcurrency: 0, workerConcurrency: 0, queueDepthIntervalMs: 0 });
    await rt.start();
    // Nobody takes these: both stay queued.
    await h.client.startOrchestration("otel-depth-1", "Nobody");
    await h.client.startOrchestration("otel-depth-2", "Nobody");
    metricExporter.reset();
    await reader.forceFlush();
    const depth = metricExporter
      .getMetrics()
      .flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics))
      .find((m) => m.descriptor.name === METRIC.queueDepth);
    const of = (queue: string) => depth?.dataPoints.find((p) => p.attributes[ATTR.queue] === queue)?.value;
    expect(of("orchestrator")).toBe(2);
    expect(of("worker")).toBe(0);
    await rt.shutdown(2000);
  });
});

describe("without an SDK", () => {
  it("stores no trace context", async () => {
    trace.disable();
    try {
      const rt = register(h.runtime());
      await rt.start();
      await h.client.startOrchestration("otel-off", "Child", 1);
      expect(await h.client.waitForOrchestration("otel-off", 30_000)).toMatchObject({ output: 2 });
      expect(startedEvent(await h.history("otel-off"))).not.toHaveProperty("trace_context");
      await rt.shutdown(2000);
    } finally {
      trace.setGlobalTracerProvider(tracerProvider);
    }
  });
});

function hr(time: [number, number]): number {
  return time[0] * 1e9 + time[1];
}
