/**
 * Runtimes whose clocks disagree with the database's (docs/clocks.md). Each runtime gets a skewed
 * `clock` (its provider writes that clock into every p_now_ms, as a process with a wrong system
 * clock would). A runtime whose skew exceeds its bound takes no leases, says so once at error
 * level and exposes the measured skew; the runtimes with a true clock keep working, and no
 * activity runs twice (counted inside the activity bodies).
 */
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { PostgresProvider } from "../../src/provider/postgres-provider.ts";
import { Client } from "../../src/runtime/client.ts";
import type { Logger } from "../../src/runtime/logger.ts";
import type { RuntimeOptions } from "../../src/runtime/options.ts";
import { Runtime } from "../../src/runtime/runtime.ts";
import { createTestSchema, type TestSchema } from "../../src/testing/test-schema.ts";

/** Short leases so a stolen lock shows within the test; the skew bound follows from them. */
const FAST: RuntimeOptions = {
  dispatcherMinPollIntervalMs: 10,
  dispatcherLongPollTimeoutMs: 200,
  orchestratorLockTimeoutMs: 2000,
  workerLockTimeoutMs: 3000,
  clockCheckIntervalMs: 250,
};

let db: TestSchema;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  db = await createTestSchema({ prefix: "flt_skew" });
});

/** Each test's runtimes stop with it: a runtime left running would take the next test's work. */
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => {});
});

afterAll(async () => {
  await db?.drop();
});

/** A clock `offsetMs` off the true one; the offset can be changed while the runtime runs. */
function skewedClock(offsetMs: number): { now: () => number; set(offsetMs: number): void } {
  let offset = offsetMs;
  return {
    now: () => Date.now() + offset,
    set(next) {
      offset = next;
    },
  };
}

/** A logger that keeps every line (and prints nothing). */
function recordingLogger(): Logger & { lines: { level: string; message: string }[] } {
  const lines: { level: string; message: string }[] = [];
  const t0 = Date.now();
  const at = (level: string) => (message: string) =>
    void lines.push({ level, message: `${Date.now() - t0} ${message}` });
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** A runtime in its own "process": its own pool and provider, both on `clock`. */
async function runtimeProcess(clock: () => number, options: RuntimeOptions = {}): Promise<Runtime> {
  const pool = new pg.Pool({ connectionString: db.url, max: 6 });
  const provider = await PostgresProvider.create({ pool, schema: db.schema, clock });
  const runtime = new Runtime(provider, { ...FAST, logLevel: "silent", clock, ...options });
  closers.push(async () => {
    await runtime.shutdown(2000);
    await provider.close();
    await pool.end();
  });
  return runtime;
}

/** A client with the true clock (as an application server with a correct clock would be). */
async function trueClient(): Promise<Client> {
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  const provider = await PostgresProvider.create({ pool, schema: db.schema });
  closers.push(async () => {
    await provider.close();
    await pool.end();
  });
  return new Client(provider);
}

/** Executions per activity, counted inside the bodies; `twice` lists those run more than once. */
function executionCounter() {
  const runs = new Map<string, number>();
  return {
    count(key: string) {
      runs.set(key, (runs.get(key) ?? 0) + 1);
    },
    get total() {
      return [...runs.values()].reduce((a, b) => a + b, 0);
    },
    twice: () => [...runs.entries()].filter(([, n]) => n > 1).map(([k]) => k),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Registers "Work" (a slow activity counted per instance+step) and "Steps" on `runtime`. */
function registerSteps(runtime: Runtime, counter: ReturnType<typeof executionCounter>, tag: string) {
  runtime.registerActivity("Work", async (ctx, step: number) => {
    counter.count(`${ctx.instanceId}#${step}`);
    await sleep(400);
    return `${tag}:${step}`;
  });
  runtime.registerOrchestration("Steps", function* (ctx, steps: number) {
    const done: string[] = [];
    for (let i = 0; i < steps; i++) done.push(yield* ctx.scheduleActivity<string>("Work", i));
    return done;
  });
}

describe("clock skew", () => {
  it("a runtime 30 s ahead takes no leases: no activity runs twice and the true runtime completes everything", async () => {
    const counter = executionCounter();
    const ahead = await runtimeProcess(skewedClock(30_000).now);
    const honest = await runtimeProcess(Date.now);
    registerSteps(ahead, counter, "ahead");
    registerSteps(honest, counter, "honest");
    await honest.start();
    const client = await trueClient();
    const ids = Array.from({ length: 6 }, (_, i) => `ahead-${i}`);
    for (const id of ids) await client.startOrchestration(id, "Steps", 3);
    // The skewed runtime joins while the true one holds activity locks.
    while (counter.total < 2) await sleep(5);
    await ahead.start();
    for (const id of ids) {
      const done = await client.waitForOrchestration(id, 30_000);
      expect(done.status).toBe("Completed");
    }
    expect(counter.twice()).toEqual([]);
    expect(counter.total).toBe(ids.length * 3);
    expect(honest.metricsSnapshot().orchCompletions).toBe(ids.length);
    const skewed = ahead.metricsSnapshot();
    expect(skewed.workerDispatcherItemsFetched + skewed.orchDispatcherItemsFetched).toBe(0);
    expect(skewed.clockSkewMs).toBeGreaterThan(29_000);
    expect(skewed.clockSkewRefusing).toBe(true);
  });

  it("a runtime 5 min ahead does not fire a 2 s timer early", async () => {
    const ahead = await runtimeProcess(skewedClock(5 * 60_000).now);
    const honest = await runtimeProcess(Date.now);
    for (const runtime of [ahead, honest]) {
      runtime.registerActivity("Now", () => Date.now());
      runtime.registerOrchestration("Nap", function* (ctx) {
        const before = yield* ctx.scheduleActivity<number>("Now", null);
        yield ctx.scheduleTimer(2000);
        const after = yield* ctx.scheduleActivity<number>("Now", null);
        return after - before;
      });
    }
    await honest.start();
    await ahead.start();
    const client = await trueClient();
    await client.startOrchestration("nap-1", "Nap");
    const done = await client.waitForOrchestration<number>("nap-1", 20_000);
    if (done.status !== "Completed") throw new Error(`Nap ended ${done.status}`);
    // The timer fires no earlier than its 2 s (what happened before: after a few milliseconds).
    expect(done.output).toBeGreaterThanOrEqual(1950);
  });

  it("a runtime 30 s behind refuses loudly and exposes its skew instead of silently fetching nothing", async () => {
    const logger = recordingLogger();
    const behind = await runtimeProcess(skewedClock(-30_000).now, { logger });
    behind.registerActivity("Noop", () => null);
    behind.registerOrchestration("One", function* (ctx) {
      return yield* ctx.scheduleActivity("Noop", null);
    });
    await behind.start();
    const client = await trueClient();
    await client.startOrchestration("behind-1", "One");
    await sleep(1500);
    const errors = logger.lines.filter((l) => l.level === "error");
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/clock/i);
    expect(errors[0]!.message).toMatch(/-(29|30)\d{3}ms/);
    expect(errors[0]!.message).toContain(`${behind.clockStatus().boundMs}ms`);
    const metrics = behind.metricsSnapshot();
    expect(metrics.clockSkewMs).toBeLessThan(-29_000);
    expect(metrics.clockSkewRefusing).toBe(true);
    const status = behind.clockStatus();
    expect(status.agrees).toBe(false);
    expect(status.boundMs).toBeGreaterThan(0);
    expect(Math.abs(status.skewMs ?? 0)).toBeGreaterThan(status.boundMs);
  });

  it("one process whose clock steps 30 s ahead mid-run executes no activity twice, and recovers when it is set right", async () => {
    const logger = recordingLogger();
    const clock = skewedClock(0);
    const counter = executionCounter();
    const runtime = await runtimeProcess(clock.now, {
      logger,
      workerConcurrency: 4,
      orchestrationConcurrency: 2,
    });
    registerSteps(runtime, counter, "alone");
    await runtime.start();
    const client = await trueClient();
    const ids = Array.from({ length: 2 }, (_, i) => `alone-${i}`);
    for (const id of ids) await client.startOrchestration(id, "Steps", 3);
    // Step the clock while the first activities are running, then set it right again.
    while (counter.total < ids.length) await sleep(5);
    clock.set(30_000);
    await sleep(1500);
    clock.set(0);
    for (const id of ids) {
      const done = await client.waitForOrchestration(id, 15_000);
      expect(done.status).toBe("Completed");
    }
    expect(counter.twice()).toEqual([]);
    expect(counter.total).toBe(ids.length * 3);
    const errors = logger.lines.filter((l) => l.level === "error" && /clock/i.test(l.message));
    expect(errors).toHaveLength(1);
    expect(logger.lines.some((l) => l.level !== "error" && /clock .*agrees/i.test(l.message))).toBe(true);
    expect(runtime.metricsSnapshot().clockSkewRefusing).toBe(false);
  });
});
