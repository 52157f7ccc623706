/**
 * The orchestrator slot's ack that fetches its next turn (Provider.ackOrchestrationItemAndFetchNext):
 * with a provider that has it, a slot working through ready instances commits each turn and locks
 * the next in one call; a provider without it is served by separate acks and fetches, with the same
 * results.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProviderError } from "../../src/provider/errors.ts";
import type { Provider } from "../../src/provider/types.ts";
import { Client } from "../../src/runtime/client.ts";
import { Runtime } from "../../src/runtime/runtime.ts";
import { createHarness, FAST, type Harness } from "./harness.ts";

const INSTANCES = 5;

let h: Harness;

beforeAll(async () => {
  h = await createHarness("r4_orch_ackfetch_rt");
});

afterAll(async () => {
  await h?.close();
});

interface Counts {
  /** Plain fetches that returned an item. */
  fetches: number;
  acks: number;
  combined: number;
  /** Combined calls that returned an item. */
  combinedItems: number;
}

/**
 * The harness provider, counting orchestrator calls; `withCombined: false` hides the combined call,
 * and `failCombined` combined calls fail first (retryably, before reaching the store).
 */
function counting(
  provider: Provider,
  withCombined: boolean,
  failCombined = 0,
): { provider: Provider; counts: Counts } {
  const counts: Counts = { fetches: 0, acks: 0, combined: 0, combinedItems: 0 };
  const proxy = new Proxy(provider, {
    get(target, key, receiver) {
      if (key === "ackOrchestrationItemAndFetchNext") {
        if (!withCombined) return undefined;
        return async (...args: Parameters<NonNullable<Provider["ackOrchestrationItemAndFetchNext"]>>) => {
          counts.combined++;
          if (failCombined-- > 0) throw ProviderError.retryable("ack_orchestration_item", "connection lost");
          const next = await target.ackOrchestrationItemAndFetchNext!(...args);
          if (next) counts.combinedItems++;
          return next;
        };
      }
      if (key === "fetchOrchestrationItem") {
        return async (...args: Parameters<Provider["fetchOrchestrationItem"]>) => {
          const fetched = await target.fetchOrchestrationItem(...args);
          if (fetched) counts.fetches++;
          return fetched;
        };
      }
      if (key === "ackOrchestrationItem") {
        return (...args: Parameters<Provider["ackOrchestrationItem"]>) => {
          counts.acks++;
          return target.ackOrchestrationItem(...args);
        };
      }
      const value = Reflect.get(target, key, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { provider: proxy, counts };
}

/** Start INSTANCES one-turn orchestrations, then let one orchestrator slot run them all. */
async function runAll(
  withCombined: boolean,
  prefix: string,
  failCombined = 0,
): Promise<{ results: string[]; counts: Counts }> {
  const client = new Client(h.provider);
  const ids = Array.from({ length: INSTANCES }, (_, i) => `${prefix}-${i}`);
  for (const id of ids) await client.startOrchestration(id, "Greet", id);
  const { provider, counts } = counting(h.provider, withCombined, failCombined);
  const rt = new Runtime(provider, { ...FAST, orchestrationConcurrency: 1, workerConcurrency: 1 });
  // biome-ignore lint/correctness/useYield: an orchestration is a generator even when it schedules nothing
  rt.registerOrchestration("Greet", function* (_ctx, name: string) {
    return `hello ${name}`;
  });
  await rt.start();
  try {
    const results: string[] = [];
    for (const id of ids) results.push(await client.waitForOrchestrationTyped<string>(id, 30_000));
    return { results, counts };
  } finally {
    await rt.shutdown(2000);
  }
}

describe("orchestrator ack and fetch in one call", () => {
  it("commits every turn with the combined call, which locks the turns after the first", async () => {
    const { results, counts } = await runAll(true, "combined");
    expect(results).toEqual(Array.from({ length: INSTANCES }, (_, i) => `hello combined-${i}`));
    expect(counts.acks).toBe(0);
    expect(counts.combined).toBe(INSTANCES);
    // Every start was ready before the runtime started: one fetch, then each ack locks the next.
    expect(counts.fetches).toBe(1);
    expect(counts.combinedItems).toBe(INSTANCES - 1);
  });

  it("acks and fetches separately with a provider that lacks the combined call", async () => {
    const { results, counts } = await runAll(false, "separate");
    expect(results).toEqual(Array.from({ length: INSTANCES }, (_, i) => `hello separate-${i}`));
    expect(counts.combined).toBe(0);
    expect(counts.acks).toBe(INSTANCES);
    expect(counts.fetches).toBe(INSTANCES);
  });

  it("retries a failed combined call with the plain ack, which fetches nothing", async () => {
    const { results, counts } = await runAll(true, "retried", 1);
    expect(results).toEqual(Array.from({ length: INSTANCES }, (_, i) => `hello retried-${i}`));
    // The first turn's combined call failed: its retry is a plain ack, and the slot fetches the
    // next turn itself; every later turn is acked by the combined call.
    expect(counts.acks).toBe(1);
    expect(counts.combined).toBe(INSTANCES);
    expect(counts.fetches).toBe(2);
    expect(counts.combinedItems).toBe(INSTANCES - 2);
  });
});
