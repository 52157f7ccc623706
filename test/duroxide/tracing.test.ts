/**
 * The user guide's "Tracing" section and duroxide-node's initTracing, against pg-durable/duroxide:
 * runtime options logFormat/serviceName/serviceVersion shape the console lines; initTracing sends
 * every default logger of the process to a file (once per process); orchestration traces are not
 * repeated when a turn replays. Its own file: initTracing changes the whole process.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initTracing } from "pg-durable/duroxide";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createDuroxideHarness, type DuroxideHarness, eventually } from "./harness.ts";

let h: DuroxideHarness;
const dir = mkdtempSync(join(tmpdir(), "dx-tracing-"));
beforeAll(async () => {
  h = await createDuroxideHarness("dxtrace");
});
afterAll(async () => {
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("console lines (no tracing file)", () => {
  it("logFormat json with serviceName/serviceVersion gives one JSON object per line", async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(console, "info").mockImplementation((line: string) => void lines.push(line));
    try {
      const runtime = h.runtime({
        logLevel: "info",
        logFormat: "json",
        serviceName: "svc",
        serviceVersion: "9.9.9",
      });
      // biome-ignore lint/correctness/useYield: an orchestration is a generator even when it schedules nothing
      runtime.registerOrchestration("SaysHi", function* (ctx) {
        ctx.traceInfo("hi from the orchestration");
        return null;
      });
      await runtime.start();
      const id = h.id("json");
      await h.client.startOrchestration(id, "SaysHi", null);
      await h.client.waitForOrchestration(id, 10_000);
      await runtime.shutdown(100);
    } finally {
      spy.mockRestore();
    }
    const hi = lines
      .map((l) => JSON.parse(l))
      .find((l) => String(l.message).includes("hi from the orchestration"));
    expect(hi).toMatchObject({ level: "INFO", "service.name": "svc", "service.version": "9.9.9" });
    expect(Date.parse(hi.timestamp)).toBeGreaterThan(0);
  });
});

describe("initTracing", () => {
  it("is exported as a function", () => {
    expect(typeof initTracing).toBe("function");
  });

  it("throws a clear error for an invalid log file path", () => {
    const blocker = join(dir, "a-file");
    rmSync(blocker, { force: true });
    writeFileSync(blocker, "");
    expect(() => initTracing({ logFile: join(blocker, "under-a-file.log") })).toThrow(
      /Failed to open log file/,
    );
  });

  it("writes traces to the file; the Traced example's replayed trace appears once", async () => {
    const logFile = join(dir, "nested", "trace.log");
    initTracing({ logFile, logLevel: "debug", logFormat: "compact" });
    const runtime = h.runtime({ serviceName: "traced-svc" });
    runtime.registerActivity("Work", async (_ctx, input) => `worked:${JSON.stringify(input)}`);
    runtime.registerActivity("FetchData", async (ctx, input) => {
      ctx.traceInfo(`fetching data for ${input.id}`);
      const data = "x".repeat(12); // the guide calls fetch(input.url)
      ctx.traceInfo(`got ${data.length} bytes`);
      return data;
    });
    runtime.registerOrchestration("Traced", function* (ctx, input) {
      ctx.traceInfo("[v1.0.0] starting workflow");
      ctx.traceDebug(`input: ${JSON.stringify(input)}`);

      const result = yield ctx.scheduleActivity("Work", input);
      yield ctx.scheduleActivity("FetchData", { id: 7 });

      ctx.traceInfo(`[v1.0.0] completed: ${result}`);
      return result;
    });
    await runtime.start();
    const id = h.id("traced");
    await h.client.startOrchestration(id, "Traced", { a: 1 });
    await h.client.waitForOrchestration(id, 10_000);
    await runtime.shutdown(100);
    const text = await eventually(async () => {
      const t = readFileSync(logFile, "utf8");
      return t.includes("[v1.0.0] completed") ? t : null;
    });
    // Three turns ran the generator; the first trace is written only by the first.
    expect(text.split("[v1.0.0] starting workflow").length - 1).toBe(1);
    expect(text).toContain('input: {"a":1}'); // debug level, as initTracing asked
    expect(text).toContain("fetching data for 7");
    expect(text).toContain("got 12 bytes");
    expect(text).toMatch(/^\S+Z\s+INFO traced-svc: .*\[v1\.0\.0\] starting workflow$/m);
  });

  it("a second call says a tracing file is already installed", () => {
    expect(() => initTracing({ logFile: join(dir, "other.log") })).toThrow(/Failed to init tracing/);
  });
});
