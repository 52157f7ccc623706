/**
 * Wake-ups reach a fetch that can take the work (docs/architecture.md, "Wake-ups"). Every runtime here runs with the
 * default poll settings, as a new user's would: a long poll waits up to 5 s and an idle fetch
 * re-checks the store every 5 s at most. A notification that woke a slot unable to take the item
 * (session owned by another slot, tag or capability filter excluding it), or that reached one slot
 * while two items waited, used to leave the item until that re-check: each figure below was ~5 s
 * (or 4 s for the two 2 s activities) per stalled step before the fix.
 */
import { afterEach, describe, expect, it } from "vitest";
import { PostgresProvider } from "../../src/provider/postgres-provider.ts";
import { Client } from "../../src/runtime/client.ts";
import type { RuntimeOptions } from "../../src/runtime/options.ts";
import { Runtime } from "../../src/runtime/runtime.ts";
import { createHarness, type Harness, sleep } from "./harness.ts";

/** The defaults a new user gets (the harness's FAST settings would hide a stall). */
const USER_DEFAULTS: RuntimeOptions = {
  dispatcherMinPollIntervalMs: 100,
  dispatcherLongPollTimeoutMs: 5_000,
  logLevel: "error",
};

/** Far below the 5 s idle re-check, with room for a noisy machine. */
const PROMPT_MS = 2_500;

let h: Harness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function startRuntimes(prefix: string, ...options: RuntimeOptions[]): Promise<Runtime[]> {
  h = await createHarness(prefix);
  return options.map((o) => h!.runtime({ ...USER_DEFAULTS, ...o }));
}

/** Start the runtimes and let every slot settle into an idle long poll, where stalls happen. */
async function startIdle(runtimes: Runtime[]): Promise<void> {
  for (const rt of runtimes) await rt.start();
  await sleep(400);
}

/** Milliseconds from start to completion of one orchestration. */
async function timeRun(
  instance: string,
  name: string,
  input?: unknown,
): Promise<{ ms: number; output: unknown }> {
  const began = Date.now();
  await h!.client.startOrchestration(instance, name, input);
  const output = await h!.client.waitForOrchestrationTyped(instance, 30_000);
  return { ms: Date.now() - began, output };
}

describe("wake-ups with sessions (one runtime, 2 worker slots, no workerNodeId)", () => {
  it("runs 3 sequential activities of one session without waiting for the re-check", async () => {
    const [rt] = await startRuntimes("wake_sess", {});
    rt!.registerActivity("Step", async (ctx, n: number) => ({ n, session: ctx.sessionId }));
    rt!.registerOrchestration("Trio", function* (ctx) {
      const out = [];
      for (let n = 1; n <= 3; n++) out.push(yield ctx.scheduleActivityOnSession("Step", n, "s-1"));
      return out;
    });
    await startIdle([rt!]);
    const { ms, output } = await timeRun("trio-1", "Trio");
    expect(output).toEqual([1, 2, 3].map((n) => ({ n, session: "s-1" })));
    expect(ms).toBeLessThan(PROMPT_MS);
  });

  it("runs 3 parallel activities of one session without waiting for the re-check", async () => {
    const [rt] = await startRuntimes("wake_sess_par", {});
    rt!.registerActivity("Step", async (_ctx, n: number) => n);
    rt!.registerOrchestration("TrioAll", function* (ctx) {
      return yield ctx.all([1, 2, 3].map((n) => ctx.scheduleActivityOnSession("Step", n, "s-2")));
    });
    await startIdle([rt!]);
    const { ms, output } = await timeRun("trio-all-1", "TrioAll");
    expect((output as { ok: number }[]).map((r) => r.ok)).toEqual([1, 2, 3]);
    expect(ms).toBeLessThan(PROMPT_MS);
  });

  it("runs a basic session orchestration promptly, every time", async () => {
    const [rt] = await startRuntimes("wake_sess_basic", {});
    rt!.registerActivity("Open", async (ctx) => `opened ${ctx.sessionId}`);
    rt!.registerActivity("Use", async (ctx, what: string) => `${what} in ${ctx.sessionId}`);
    rt!.registerOrchestration("Basic", function* (ctx, session: string) {
      const opened: string = yield ctx.scheduleActivityOnSession("Open", null, session);
      const used: string = yield ctx.scheduleActivityOnSession("Use", "query", session);
      return [opened, used];
    });
    await startIdle([rt!]);
    for (let run = 1; run <= 3; run++) {
      const { ms, output } = await timeRun(`basic-${run}`, "Basic", `s-basic-${run}`);
      expect(output).toEqual([`opened s-basic-${run}`, `query in s-basic-${run}`]);
      expect(ms).toBeLessThan(PROMPT_MS);
    }
  });
});

describe("wake-ups across runtimes sharing one provider object", () => {
  it("reaches the runtime whose worker tag filter takes the item, at each step", async () => {
    const [main, gpu] = await startRuntimes(
      "wake_tags",
      {}, // untagged work only
      { orchestrationConcurrency: 0, workerTagFilter: { tags: ["gpu"] } },
    );
    main!.registerActivity("Render", async (_ctx, n: number) => `main:${n}`);
    gpu!.registerActivity("Render", async (_ctx, n: number) => `gpu:${n}`);
    main!.registerOrchestration("Alternate", function* (ctx) {
      const out: string[] = [];
      for (let n = 1; n <= 4; n++) {
        out.push(
          yield n % 2 === 1
            ? ctx.scheduleActivityWithTag("Render", n, "gpu")
            : ctx.scheduleActivity("Render", n),
        );
      }
      return out;
    });
    await startIdle([main!, gpu!]);
    const { ms, output } = await timeRun("alternate-1", "Alternate");
    expect(output).toEqual(["gpu:1", "main:2", "gpu:3", "main:4"]);
    expect(ms).toBeLessThan(PROMPT_MS);
  });

  it("reaches the runtime whose capability filter takes the turn, at each step", async () => {
    const [main, narrow] = await startRuntimes(
      "wake_caps",
      {},
      // Replays nothing this engine stamps: its orchestration slots can never take these turns.
      { workerConcurrency: 0, supportedReplayVersions: { min: "0.0.0", max: "0.0.1" } },
    );
    for (const rt of [main!, narrow!]) {
      rt.registerActivity("Step", async (_ctx, n: number) => n);
      rt.registerOrchestration("Steps", function* (ctx) {
        let sum = 0;
        for (let n = 1; n <= 4; n++) sum += (yield ctx.scheduleActivity("Step", n)) as number;
        return sum;
      });
    }
    await startIdle([main!, narrow!]);
    const { ms, output } = await timeRun("steps-1", "Steps");
    expect(output).toBe(10);
    expect(ms).toBeLessThan(PROMPT_MS);
  });
});

describe("wake-ups for work enqueued together", () => {
  it("runs two 2 s activities started together on the two idle slots at once", async () => {
    const [rt] = await startRuntimes("wake_pair", {});
    rt!.registerActivity("Slow", async (_ctx, n: number) => {
      await sleep(2_000);
      return n;
    });
    rt!.registerOrchestration("Pair", function* (ctx) {
      return yield ctx.all([ctx.scheduleActivity("Slow", 1), ctx.scheduleActivity("Slow", 2)]);
    });
    await startIdle([rt!]);
    const { ms, output } = await timeRun("pair-1", "Pair");
    expect((output as { ok: number }[]).map((r) => r.ok)).toEqual([1, 2]);
    expect(ms).toBeLessThan(3_500);
  });
});

describe("the provider's wake-ups are the runtime's only ones", () => {
  it("fires a 1 s timer on time while idle slots wait up to 5 s (next_wakeup_at, no dispatcher timers)", async () => {
    const [rt] = await startRuntimes("wake_timer", { orchestrationConcurrency: 2 });
    rt!.registerOrchestration("Nap", function* (ctx) {
      yield ctx.scheduleTimer(1_000);
      return "rested";
    });
    await startIdle([rt!]);
    const { ms, output } = await timeRun("nap-1", "Nap");
    expect(output).toBe("rested");
    expect(ms).toBeGreaterThanOrEqual(1_000);
    expect(ms).toBeLessThan(1_000 + PROMPT_MS);
  });

  it("wakes a client whose re-read backoff has grown long as soon as the instance completes", async () => {
    const [rt] = await startRuntimes("wake_client", {});
    rt!.registerActivity("Slow", async () => {
      await sleep(2_600);
      return "done";
    });
    rt!.registerOrchestration("SlowOne", function* (ctx) {
      return yield ctx.scheduleActivity("Slow", null);
    });
    await startIdle([rt!]);
    // Re-reads at 10, 30, 70, … 2 550, then 5 110 ms: without a wake-up the completion at ~2.6 s
    // would be seen at ~5.1 s.
    const patient = new Client(h!.provider, { maxPollIntervalMs: 60_000 });
    const began = Date.now();
    await h!.client.startOrchestration("slow-1", "SlowOne");
    const output = await patient.waitForOrchestrationTyped("slow-1", 30_000);
    expect(output).toBe("done");
    expect(Date.now() - began).toBeLessThan(4_200);
  });

  it("shuts an idle runtime down at once although its slots wait up to 5 s", async () => {
    const [rt] = await startRuntimes("wake_stop", { orchestrationConcurrency: 2, workerConcurrency: 2 });
    await startIdle([rt!]);
    const began = Date.now();
    expect(await rt!.shutdown(5_000)).toBe("drained");
    expect(Date.now() - began).toBeLessThan(1_000);
  });

  it("polls a provider without wake-ups (longPoll: false) every minimum poll interval", async () => {
    h = await createHarness("wake_none");
    const provider = await PostgresProvider.create({ pool: h.db.pool, schema: h.db.schema, longPoll: false });
    expect(provider.wakeups).toBeUndefined();
    const rt = new Runtime(provider, { ...USER_DEFAULTS, dispatcherMinPollIntervalMs: 50 });
    try {
      rt.registerActivity("Step", async (_ctx, n: number) => n * 2);
      rt.registerOrchestration("Twice", function* (ctx) {
        const a: number = yield ctx.scheduleActivity("Step", 1);
        const b: number = yield ctx.scheduleActivity("Step", a);
        return b;
      });
      await rt.start();
      await sleep(200);
      const client = new Client(provider);
      const began = Date.now();
      await client.startOrchestration("twice-1", "Twice");
      expect(await client.waitForOrchestrationTyped("twice-1", 30_000)).toBe(4);
      // Five steps (start, two activities, two completions), each found within one 50 ms poll.
      expect(Date.now() - began).toBeLessThan(PROMPT_MS);
      const stopping = Date.now();
      expect(await rt.shutdown(5_000)).toBe("drained");
      expect(Date.now() - stopping).toBeLessThan(1_000);
    } finally {
      await rt.shutdown(1_000);
      await provider.close();
    }
  });
});
