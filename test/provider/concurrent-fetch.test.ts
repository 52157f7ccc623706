/**
 * Ten dispatchers, each with its own provider and pool, fetching from one schema at the same
 * moment must share the ready instances out exactly: no one gets nothing while an instance is
 * ready (a lost race moves on to the next candidate) and no instance is handed out twice.
 */
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { PostgresProvider } from "../../src/provider/postgres-provider.ts";
import type { FetchedOrchestrationItem, WorkItem } from "../../src/provider/types.ts";
import { createTestSchema, type TestSchema } from "../../src/testing/test-schema.ts";

const FETCHERS = 10;
const ROUNDS = 50;
const LOCK_MS = 60_000;

let store: TestSchema;
let pools: pg.Pool[] = [];
let providers: PostgresProvider[] = [];

function start(instance: string): WorkItem {
  return {
    StartOrchestration: {
      instance,
      orchestration: "Concurrent",
      input: "{}",
      version: "1.0.0",
      parent_instance: null,
      parent_id: null,
      execution_id: 1,
    },
  };
}

function poke(instance: string): WorkItem {
  return { ExternalRaised: { instance, name: "poke", data: "{}" } };
}

beforeAll(async () => {
  store = await createTestSchema({ prefix: "h1_concurrent" });
  pools = Array.from({ length: FETCHERS }, () => new pg.Pool({ connectionString: store.url, max: 1 }));
  providers = await Promise.all(
    pools.map((pool) => PostgresProvider.create({ pool, schema: store.schema, longPoll: false })),
  );
  // Warm every connection so the first round measures fetching, not connecting.
  await Promise.all(pools.map((pool) => pool.query("SELECT 1")));
});

afterAll(async () => {
  await Promise.all(providers.map((p) => p.close()));
  await Promise.all(pools.map((pool) => pool.end()));
  await store.drop();
});

it("hands ten ready instances to ten simultaneous fetchers, each exactly once, fifty rounds in a row", async () => {
  const instances = Array.from({ length: FETCHERS }, (_, i) => `inst-${i}`);
  for (const instance of instances) await providers[0]!.enqueueForOrchestrator(start(instance), null);

  for (let round = 0; round < ROUNDS; round++) {
    const fetched = await Promise.all(providers.map((p) => p.fetchOrchestrationItem(LOCK_MS, 0, null)));
    const got = fetched.filter((f): f is FetchedOrchestrationItem => f !== null);
    expect(got.length, `round ${round}: every fetcher must get an instance`).toBe(FETCHERS);
    expect(new Set(got.map((f) => f.item.instance)).size, `round ${round}: no instance twice`).toBe(FETCHERS);

    // Make every instance ready again: abandon on even rounds, ack + a new message on odd ones.
    await Promise.all(
      got.map(async (f, i) => {
        const provider = providers[i]!;
        if (round % 2 === 0) {
          await provider.abandonOrchestrationItem(f.lockToken, null, false);
        } else {
          await provider.ackOrchestrationItem(f.lockToken, 1, [], [], [poke(f.item.instance)], {}, []);
        }
      }),
    );
  }

  const { rows } = await store.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM "${store.schema}".instance_locks`,
  );
  expect(Number(rows[0]?.n), "every lock was released").toBe(0);
});
