/**
 * The runtime keeps going when its connections are taken away: backends terminated by an operator
 * (pg_terminate_backend, SQLSTATE 57P01) and a pool starved until its waits time out. Every
 * instance still completes, no failure is recorded, and each activity completes once in history.
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresProvider } from "../../src/provider/postgres-provider.ts";
import type { Event } from "../../src/provider/types.ts";
import { Runtime } from "../../src/runtime/runtime.ts";
import { holdPool } from "../../src/stress/runtime-host.ts";
import { createHarness, eventually, FAST, type Harness, sleep } from "./harness.ts";

let h: Harness;
let admin: pg.Client;

beforeAll(async () => {
  h = await createHarness("rt_connloss");
  admin = new pg.Client({ connectionString: h.db.url });
  await admin.connect();
});

afterAll(async () => {
  await admin?.end();
  await h?.close();
});

/** A runtime on its own provider whose connections carry `applicationName`. */
async function runtimeWithOwnPool(applicationName: string, connectionTimeoutMs?: number) {
  const provider = await PostgresProvider.create({
    connectionString: h.db.url,
    schema: h.db.schema,
    poolSize: 4,
    applicationName,
    ...(connectionTimeoutMs ? { connectionTimeoutMs } : {}),
  });
  const runtime = new Runtime(provider, { ...FAST, workerLockTimeoutMs: 3000 });
  runtime.registerActivity("Step", async (_ctx, n: number) => {
    await sleep(20);
    return n * 2;
  });
  runtime.registerOrchestration("Steps", function* (ctx, count: number) {
    let sum = 0;
    for (let i = 1; i <= count; i++) {
      sum += yield* ctx.scheduleActivity<number>("Step", i);
      yield ctx.scheduleTimer(10);
    }
    return sum;
  });
  await runtime.start();
  return { runtime, provider };
}

/** Every ActivityScheduled has exactly one completion; no failure anywhere. */
function expectCleanHistory(history: Event[]): void {
  const scheduled = history.filter((e) => e.type === "ActivityScheduled").map((e) => e.event_id);
  const completions = history.filter((e) => e.type === "ActivityCompleted").map((e) => e.source_event_id);
  expect(completions.sort()).toEqual(scheduled.sort());
  expect(history.some((e) => e.type === "OrchestrationFailed" || e.type === "ActivityFailed")).toBe(false);
  expect(history.map((e) => e.event_id)).toEqual(history.map((_, i) => i + 1));
}

async function runAll(prefix: string, instances: number, steps: number, whileRunning: () => Promise<void>) {
  const ids = Array.from({ length: instances }, (_, i) => `${prefix}-${i}`);
  for (const id of ids) await h.client.startOrchestration(id, "Steps", steps);
  await whileRunning();
  const expected = steps * (steps + 1); // Σ 2i
  for (const id of ids) {
    const status = await h.client.waitForOrchestration<number>(id, 60_000);
    expect(status.status, `${id}: ${"error" in status ? status.error : ""}`).toBe("Completed");
    if (status.status === "Completed") expect(status.output).toBe(expected);
    expectCleanHistory(await h.history(id));
  }
}

describe("connection loss", () => {
  it("completes every instance while its backends are terminated again and again", async () => {
    const applicationName = `pgd-test-${randomUUID().slice(0, 8)}`;
    const { runtime, provider } = await runtimeWithOwnPool(applicationName);
    let terminated = 0;
    try {
      await runAll("terminated", 12, 4, async () => {
        for (let round = 0; round < 15; round++) {
          await sleep(150);
          const { rows } = await admin.query<{ n: number }>(
            `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n
               FROM pg_stat_activity WHERE application_name = $1`,
            [applicationName],
          );
          terminated += rows[0]!.n;
        }
      });
      expect(terminated).toBeGreaterThan(0);
      expect(runtime.metricsSnapshot().providerErrors).toBeGreaterThan(0);
      // The wake-up listener was among the terminated backends: it has reconnected and listens again.
      await eventually(async () => {
        const { rows } = await admin.query(
          `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN %'`,
          [applicationName],
        );
        return rows.length > 0;
      }, 15_000);
    } finally {
      await runtime.shutdown(5000);
      await provider.close();
    }
  });

  it("completes every instance when its pool is starved past the connection timeout", async () => {
    const { runtime, provider } = await runtimeWithOwnPool(`pgd-test-${randomUUID().slice(0, 8)}`, 300);
    try {
      await runAll("starved", 8, 3, async () => {
        await sleep(100);
        // Hold all 4 connections for 1.5 s: the runtime's calls time out waiting (retryable) meanwhile.
        expect(await holdPool(provider.pool, 1500)).toBe(4);
      });
      expect(runtime.metricsSnapshot().providerErrors).toBeGreaterThan(0);
    } finally {
      await runtime.shutdown(5000);
      await provider.close();
    }
  });
});
