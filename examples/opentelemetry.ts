// Traces and metrics of a durable workflow, to the console and to an OTLP collector
// (docs/observability.md). pg-durable uses @opentelemetry/api only: the application registers
// the SDK, as below, BEFORE it creates the runtime and the client.
//
//   DATABASE_URL=postgres://user:password@host:5432/db \
//   OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 npx tsx examples/opentelemetry.ts
//
// Without OTEL_EXPORTER_OTLP_ENDPOINT only the console exporters run.
import { context, metrics, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  ConsoleMetricExporter,
  MeterProvider,
  type MetricReader,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { Client, PostgresProvider, Runtime } from "pg-durable";

const otlp = process.env.OTEL_EXPORTER_OTLP_ENDPOINT; // the exporters read it themselves
const resource = resourceFromAttributes({ "service.name": "otel-example" });

const spanProcessors: SpanProcessor[] = [new SimpleSpanProcessor(new ConsoleSpanExporter())];
if (otlp) spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
const tracerProvider = new BasicTracerProvider({ resource, spanProcessors });

const readers: MetricReader[] = [
  new PeriodicExportingMetricReader({ exporter: new ConsoleMetricExporter(), exportIntervalMillis: 5_000 }),
];
if (otlp) {
  readers.push(
    new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter(), exportIntervalMillis: 5_000 }),
  );
}
const meterProvider = new MeterProvider({ resource, readers });

// The context manager makes an activity's span the parent of spans its own code opens.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(tracerProvider);
metrics.setGlobalMeterProvider(meterProvider);

const provider = await PostgresProvider.create({
  connectionString: process.env.DATABASE_URL,
  schema: "otel_example",
  migrate: true,
});
// JSON log lines carry instanceId, executionId, orchestrationName and activityId as fields.
const runtime = new Runtime(provider, { logFormat: "json", serviceName: "otel-example" });
runtime.registerActivity("Charge", async (ctx, amount: number) => {
  ctx.traceInfo(`charging ${amount}`);
  return { charged: amount };
});
runtime.registerOrchestration("Checkout", function* (ctx, amount: number) {
  ctx.traceInfo("checkout started"); // printed once, not again when later turns replay this line
  const receipt: { charged: number } = yield ctx.scheduleActivity("Charge", amount);
  yield ctx.scheduleTimer(500);
  return receipt;
});
await runtime.start();

// The start span is a child of whatever span is active here (an HTTP request's, say); every turn
// and activity of the instance joins its trace, even if another process runs them after a restart.
const client = new Client(provider);
const instanceId = `checkout-${Date.now()}`;
await trace.getTracer("otel-example").startActiveSpan("POST /checkout", async (span) => {
  await client.startOrchestration(instanceId, "Checkout", 42);
  span.end();
});
const result = await client.waitForOrchestration(instanceId, 30_000);
console.log(result.status === "Completed" ? result.output : `Failed: ${result.error}`);

await runtime.shutdown();
await provider.close();
await tracerProvider.shutdown(); // flushes the batched spans
await meterProvider.shutdown(); // exports the last metrics
