/**
 * Bad input and corrupt data: each case fails the way docs/store-contract.md §3 says (a permanent error, or a
 * fetched item with historyError), changes nothing it must not change, and never stops fetches of
 * other instances.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ProviderError } from "../../src/provider/errors.ts";
import { PostgresProvider } from "../../src/provider/postgres-provider.ts";
import type { Event, FetchedOrchestrationItem, WorkItem } from "../../src/provider/types.ts";
import { createTestSchema, type TestSchema } from "../../src/testing/test-schema.ts";

const LOCK_MS = 30_000;
const TABLES = ["instances", "executions", "history", "orchestrator_queue", "worker_queue", "instance_locks"];

let store: TestSchema;
let provider: PostgresProvider;

beforeEach(async () => {
  store = await createTestSchema({ prefix: "h1_bad" });
  provider = await PostgresProvider.create({ pool: store.pool, schema: store.schema, longPoll: false });
});

afterEach(async () => {
  await provider.close();
  await store.drop();
});

function table(name: string): string {
  return `"${store.schema}".${name}`;
}

/** Every row of every table, in a stable order: what "the store" is. */
async function snapshot(tables: readonly string[] = TABLES): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const name of tables) {
    const { rows } = await store.pool.query<{ row: string }>(
      `SELECT t::text AS row FROM ${table(name)} t ORDER BY t::text`,
    );
    out[name] = rows.map((r) => r.row);
  }
  return out;
}

/** The payload side of the store: history and queue contents without lock bookkeeping. */
async function payloads(): Promise<Record<string, string[]>> {
  const queries: Record<string, string> = {
    instances: `SELECT t::text AS row FROM ${table("instances")} t`,
    executions: `SELECT t::text AS row FROM ${table("executions")} t`,
    history: `SELECT t::text AS row FROM ${table("history")} t`,
    // visible_at_ms is left out: a fetch moves a fetched batch's visibility up to the fetch time
    // (0016, so an instance whose lock keeps expiring does not stay the head of the queue).
    orchestrator_queue: `SELECT concat_ws('|', id, instance_id, kind, work_item) AS row FROM ${table("orchestrator_queue")}`,
  };
  const out: Record<string, string[]> = {};
  for (const [name, sql] of Object.entries(queries)) {
    const { rows } = await store.pool.query<{ row: string }>(`${sql} ORDER BY 1`);
    out[name] = rows.map((r) => r.row);
  }
  return out;
}

function start(instance: string): WorkItem {
  return {
    StartOrchestration: {
      instance,
      orchestration: "Orch",
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

function started(instance: string, eventId = 1): Event {
  return {
    event_id: eventId,
    source_event_id: null,
    instance_id: instance,
    execution_id: 1,
    timestamp_ms: 1,
    duroxide_version: "0.1.26",
    type: "OrchestrationStarted",
    name: "Orch",
    version: "1.0.0",
    input: "{}",
    parent_instance: null,
    parent_id: null,
  };
}

function scheduled(instance: string, eventId: number): Event {
  return {
    event_id: eventId,
    source_event_id: null,
    instance_id: instance,
    execution_id: 1,
    timestamp_ms: 1,
    duroxide_version: "0.1.26",
    type: "ActivityScheduled",
    name: "A",
    input: "{}",
  };
}

async function fetchOne(): Promise<FetchedOrchestrationItem> {
  const fetched = await provider.fetchOrchestrationItem(LOCK_MS, 0, null);
  expect(fetched).not.toBeNull();
  return fetched as FetchedOrchestrationItem;
}

/** Start `instance` and commit its first turn with metadata, so it has an instances row and history. */
async function createInstance(instance: string): Promise<void> {
  await provider.enqueueForOrchestrator(start(instance), null);
  const fetched = await fetchOne();
  await provider.ackOrchestrationItem(
    fetched.lockToken,
    1,
    [started(instance)],
    [],
    [],
    {
      orchestrationName: "Orch",
      orchestrationVersion: "1.0.0",
      status: "Running",
    },
    [],
  );
}

async function expectPermanent(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  expect((error as ProviderError).retryable).toBe(false);
  expect((error as ProviderError).message).toMatch(pattern);
}

describe("an invalid lock token", () => {
  it("fails ack, abandon and renew permanently and changes nothing", async () => {
    await createInstance("a");
    await provider.enqueueForOrchestrator(poke("a"), null);
    await fetchOne(); // a real lock is held
    const before = await snapshot();

    await expectPermanent(
      provider.ackOrchestrationItem(
        "not-a-token",
        1,
        [scheduled("a", 2)],
        [],
        [poke("b")],
        { status: "Completed" },
        [],
      ),
      /Invalid lock token/,
    );
    await expectPermanent(provider.abandonOrchestrationItem("not-a-token", 1000, true), /Invalid lock token/);
    await expectPermanent(provider.renewOrchestrationItemLock("not-a-token", 1000), /Invalid lock token/);

    expect(await snapshot()).toEqual(before);
  });

  it("fails an ack whose lock has expired and changes nothing", async () => {
    await provider.enqueueForOrchestrator(start("a"), null);
    const fetched = await provider.fetchOrchestrationItem(50, 0, null);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const before = await snapshot();

    await expectPermanent(
      provider.ackOrchestrationItem(fetched!.lockToken, 1, [started("a")], [], [], {}, []),
      /Invalid lock token/,
    );
    expect(await snapshot()).toEqual(before);
  });
});

describe("a duplicate event id", () => {
  it("fails the whole ack permanently, keeps the lock and changes nothing", async () => {
    await createInstance("a");
    await provider.enqueueForOrchestrator(poke("a"), null);
    const fetched = await fetchOne();
    const before = await snapshot();

    const worker: WorkItem = {
      ActivityExecute: { instance: "a", execution_id: 1, id: 2, name: "A", input: "{}" },
    };
    await expectPermanent(
      provider.ackOrchestrationItem(
        fetched.lockToken,
        1,
        [scheduled("a", 1)],
        [worker],
        [poke("b")],
        {
          status: "Completed",
          output: "x",
        },
        [],
      ),
      /duplicate|unique/i,
    );

    expect(await snapshot()).toEqual(before);
    // The same token still commits a correct turn.
    await provider.ackOrchestrationItem(fetched.lockToken, 1, [scheduled("a", 2)], [], [], {}, []);
    expect(await provider.read("a")).toHaveLength(2);
  });

  it("rejects event_id 0 permanently and changes nothing", async () => {
    await provider.enqueueForOrchestrator(start("a"), null);
    const fetched = await fetchOne();
    const before = await snapshot();
    await expectPermanent(
      provider.ackOrchestrationItem(fetched.lockToken, 1, [started("a", 0)], [], [], {}, []),
      /event_id/,
    );
    expect(await snapshot()).toEqual(before);
  });
});

describe("malformed stored history", () => {
  for (const [label, corrupt] of [
    ["a row that is not JSON at all", "not json{"],
    ["a valid-JSON row that is not an event", '{"garbage": true}'],
  ] as const) {
    it(`reports ${label} as historyError, keeps the data and lets other instances through`, async () => {
      await createInstance("bad");
      await createInstance("good");
      await store.pool.query(`UPDATE ${table("history")} SET event_data = $1 WHERE instance_id = 'bad'`, [
        corrupt,
      ]);
      // The bad instance is at the head of the queue.
      await provider.enqueueForOrchestrator(poke("bad"), null);
      await provider.enqueueForOrchestrator(poke("good"), null);
      const before = await payloads();

      const bad = await fetchOne();
      expect(bad.item.instance).toBe("bad");
      expect(bad.item.historyError).toMatch(/cannot be decoded/);
      expect(bad.item.history).toEqual([]);
      expect(bad.item.messages).toEqual([poke("bad")]);
      expect(bad.attemptCount).toBe(1);

      const good = await fetchOne();
      expect(good.item.instance).toBe("good");
      expect(good.item.historyError).toBeNull();
      expect(good.item.history).toHaveLength(1);

      await expectPermanent(provider.read("bad"), /cannot be decoded/);
      await expectPermanent(provider.readWithExecution("bad", 1), /cannot be decoded/);
      expect(await payloads(), "history and messages are untouched").toEqual(before);
    });
  }

  it("keeps returning historyError with a growing attempt count until the runtime gives up", async () => {
    await createInstance("bad");
    await store.pool.query(
      `UPDATE ${table("history")} SET event_data = 'not json{' WHERE instance_id = 'bad'`,
    );
    await provider.enqueueForOrchestrator(poke("bad"), null);
    for (let attempt = 1; attempt <= 3; attempt++) {
      const fetched = await fetchOne();
      expect(fetched.item.historyError).not.toBeNull();
      expect(fetched.attemptCount).toBe(attempt);
      await provider.abandonOrchestrationItem(fetched.lockToken, null, false);
    }
  });
});

describe("an unknown work item variant in the queue", () => {
  it("is reported as historyError without failing the fetch, and other instances still come through", async () => {
    await createInstance("bad");
    await createInstance("good");
    await store.pool.query(
      `INSERT INTO ${table("orchestrator_queue")} (instance_id, kind, work_item, visible_at_ms, created_at_ms)
       VALUES ('bad', 'Bogus', '{"Bogus":{}}', 0, 0)`,
    );
    await provider.enqueueForOrchestrator(poke("bad"), null);
    await provider.enqueueForOrchestrator(poke("good"), null);
    const before = await payloads();

    const bad = await fetchOne();
    expect(bad.item.instance).toBe("bad");
    expect(bad.item.historyError).toMatch(/Bogus/);
    expect(bad.item.messages).toEqual([poke("bad")]);

    const good = await fetchOne();
    expect(good.item.instance).toBe("good");
    expect(good.item.historyError).toBeNull();
    expect(await payloads(), "the bad row is kept for the poison path").toEqual(before);
  });

  it("is rejected on enqueue and at ack, changing nothing", async () => {
    await provider.enqueueForOrchestrator(start("a"), null);
    const fetched = await fetchOne();
    const before = await snapshot();
    const bogus = { Bogus: { instance: "a" } } as unknown as WorkItem;

    await expectPermanent(provider.enqueueForOrchestrator(bogus, null), /unknown variant/);
    await expectPermanent(
      provider.ackOrchestrationItem(fetched.lockToken, 1, [started("a")], [], [bogus], {}, []),
      /unknown variant/,
    );
    await expectPermanent(
      provider.ackOrchestrationItem(fetched.lockToken, 1, [started("a")], [poke("a")], [], {}, []),
      /ActivityExecute/,
    );
    expect(await snapshot()).toEqual(before);
  });
});
