/**
 * The worker slot's ack that fetches its next item (Provider.ackWorkItemAndFetchNext): with a
 * provider that has it, a slot working through a fan-out acks each activity and locks the next in
 * one call; a provider without it is served by separate acks and fetches, with the same results.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Provider, WorkItem } from "../../src/provider/types.ts";
import { Client } from "../../src/runtime/client.ts";
import { Runtime } from "../../src/runtime/runtime.ts";
import { createHarness, eventually, FAST, type Harness } from "./harness.ts";

const FAN_OUT = 6;

let h: Harness;

beforeAll(async () => {
  h = await createHarness("r4_worker_ackfetch");
});

afterAll(async () => {
  await h?.close();
});

interface Counts {
  fetches: number;
  acks: number;
  combined: number;
  /** Combined calls that returned an item. */
  combinedItems: number;
}

/** The harness provider, counting worker calls; `withCombined: false` hides ackWorkItemAndFetchNext. */
function counting(provider: Provider, withCombined: boolean): { provider: Provider; counts: Counts } {
  const counts: Counts = { fetches: 0, acks: 0, combined: 0, combinedItems: 0 };
  const proxy = new Proxy(provider, {
    get(target, key, receiver) {
      if (key === "ackWorkItemAndFetchNext") {
        if (!withCombined) return undefined;
        return async (...args: Parameters<NonNullable<Provider["ackWorkItemAndFetchNext"]>>) => {
          counts.combined++;
          const next = await target.ackWorkItemAndFetchNext!(...args);
          if (next) counts.combinedItems++;
          return next;
        };
      }
      if (key === "fetchWorkItem") {
        return async (...args: Parameters<Provider["fetchWorkItem"]>) => {
          const fetched = await target.fetchWorkItem(...args);
          if (fetched) counts.fetches++;
          return fetched;
        };
      }
      if (key === "ackWorkItem") {
        return (...args: Parameters<Provider["ackWorkItem"]>) => {
          counts.acks++;
          return target.ackWorkItem(...args);
        };
      }
      const value = Reflect.get(target, key, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { provider: proxy, counts };
}

async function runFanOut(
  withCombined: boolean,
  instance: string,
): Promise<{ result: number[]; counts: Counts }> {
  const { provider, counts } = counting(h.provider, withCombined);
  // One worker slot: it works through the fan-out item after item.
  const rt = new Runtime(provider, { ...FAST, workerConcurrency: 1, orchestrationConcurrency: 1 });
  rt.registerActivity("Square", async (_ctx, n: number) => n * n);
  rt.registerOrchestration("FanOut", function* (ctx) {
    const tasks = Array.from({ length: FAN_OUT }, (_, i) => ctx.scheduleActivity<number>("Square", i));
    return yield ctx.all(tasks);
  });
  await rt.start();
  try {
    const client = new Client(h.provider);
    await client.startOrchestration(instance, "FanOut", null);
    const result = await client.waitForOrchestrationTyped<{ ok: number }[]>(instance, 30_000);
    return { result: result.map((r) => r.ok), counts };
  } finally {
    await rt.shutdown(2000);
  }
}

describe("worker ack and fetch in one call", () => {
  it("acks every activity of a fan-out with the combined call, which locks the items after the first", async () => {
    const { result, counts } = await runFanOut(true, "combined-1");
    expect(result).toEqual([0, 1, 4, 9, 16, 25]);
    expect(counts.combined).toBe(FAN_OUT);
    expect(counts.acks).toBe(0);
    // All six were enqueued by one turn: the first is fetched, each ack locks the next.
    expect(counts.fetches).toBe(1);
    expect(counts.combinedItems).toBe(FAN_OUT - 1);
  });

  it("acks and fetches separately with a provider that lacks the combined call", async () => {
    const { result, counts } = await runFanOut(false, "separate-1");
    expect(result).toEqual([0, 1, 4, 9, 16, 25]);
    expect(counts.combined).toBe(0);
    expect(counts.acks).toBe(FAN_OUT);
    expect(counts.fetches).toBe(FAN_OUT);
  });
});

describe("the orchestration an activity names", () => {
  it("comes from the ActivityExecute when it carries it, else from a lookup", async () => {
    const { provider, counts } = counting(h.provider, true);
    const seen = new Map<string, string>();
    const rt = new Runtime(provider, { ...FAST, workerConcurrency: 1, orchestrationConcurrency: 0 });
    rt.registerActivity("Who", async (ctx, key: string) => {
      seen.set(key, `${ctx.orchestrationName}@${ctx.orchestrationVersion}`);
      return null;
    });
    // Items for instances the store does not know: only what the item carries can name them.
    const carried: WorkItem = {
      ActivityExecute: {
        instance: "no-such-1",
        execution_id: 1,
        id: 1,
        name: "Who",
        input: JSON.stringify("carried"),
        orchestration_name: "Billing",
        orchestration_version: "2.1.0",
      },
    };
    const bare: WorkItem = {
      ActivityExecute: {
        instance: "no-such-2",
        execution_id: 1,
        id: 1,
        name: "Who",
        input: JSON.stringify("bare"),
      },
    };
    await h.provider.enqueueForWorker(carried);
    await h.provider.enqueueForWorker(bare);
    await rt.start();
    try {
      await eventually(async () => (seen.size === 2 ? seen : null), 10_000);
    } finally {
      await rt.shutdown(2000);
    }
    expect(seen.get("carried")).toBe("Billing@2.1.0");
    expect(seen.get("bare")).toBe("unknown@unknown");
    expect(counts.combined + counts.acks).toBe(2);
  });
});
