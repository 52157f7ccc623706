/**
 * Focused tests of the orchestration store's SQL: visibility, locks, the orphan rule and the
 * ack's bookkeeping. A fake clock drives time, so nothing here sleeps.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ProviderError } from "../../src/provider/errors.ts";
import { PostgresProvider } from "../../src/provider/postgres-provider.ts";
import type {
  Event,
  EventKind,
  ExecutionMetadata,
  FetchedOrchestrationItem,
  WorkItem,
} from "../../src/provider/types.ts";
import { createTestSchema, type TestSchema } from "../../src/testing/test-schema.ts";

const T0 = 1_700_000_000_000;
const LOCK_MS = 5_000;

let store: TestSchema;
let provider: PostgresProvider;
let now = T0;

beforeEach(async () => {
  now = T0;
  store = await createTestSchema({ prefix: "h1_store" });
  provider = await PostgresProvider.create({
    pool: store.pool,
    schema: store.schema,
    longPoll: false,
    clock: () => now,
  });
});

afterEach(async () => {
  await provider.close();
  await store.drop();
});

async function rows<T>(sql: string, params: unknown[] = []): Promise<T[]> {
  const result = await store.pool.query(sql.replaceAll("$schema", `"${store.schema}"`), params);
  return result.rows as T[];
}

function start(instance: string, options: { executionId?: number; version?: string | null } = {}): WorkItem {
  return {
    StartOrchestration: {
      instance,
      orchestration: "Orch",
      input: "{}",
      version: options.version === undefined ? "1.0.0" : options.version,
      parent_instance: null,
      parent_id: null,
      execution_id: options.executionId ?? 1,
    },
  };
}

const poke = (instance: string): WorkItem => ({ ExternalRaised: { instance, name: "poke", data: "{}" } });
const queueMessage = (instance: string, data = "{}"): WorkItem => ({
  QueueMessage: { instance, name: "q", data },
});
const timer = (instance: string, fireAtMs: number): WorkItem => ({
  TimerFired: { instance, execution_id: 1, id: 2, fire_at_ms: fireAtMs },
});

function event(instance: string, eventId: number, kind: EventKind, executionId = 1): Event {
  return {
    event_id: eventId,
    source_event_id: null,
    instance_id: instance,
    execution_id: executionId,
    timestamp_ms: now,
    duroxide_version: "0.1.26",
    ...kind,
  } as Event;
}

const startedKind = (name = "Orch", version = "1.0.0"): EventKind => ({
  type: "OrchestrationStarted",
  name,
  version,
  input: "{}",
  parent_instance: null,
  parent_id: null,
});

const meta: ExecutionMetadata = { orchestrationName: "Orch", orchestrationVersion: "1.0.0" };

function fetch(lockMs = LOCK_MS): Promise<FetchedOrchestrationItem | null> {
  return provider.fetchOrchestrationItem(lockMs, 0, null);
}

async function fetchOne(lockMs = LOCK_MS): Promise<FetchedOrchestrationItem> {
  const fetched = await fetch(lockMs);
  expect(fetched, "expected an orchestration item").not.toBeNull();
  return fetched as FetchedOrchestrationItem;
}

async function ack(
  fetched: FetchedOrchestrationItem,
  options: {
    executionId?: number;
    events?: Event[];
    orchestratorItems?: WorkItem[];
    metadata?: ExecutionMetadata;
  } = {},
): Promise<void> {
  await provider.ackOrchestrationItem(
    fetched.lockToken,
    options.executionId ?? fetched.item.executionId,
    options.events ?? [],
    [],
    options.orchestratorItems ?? [],
    options.metadata ?? {},
    [],
  );
}

/** Enqueue a start and commit its first turn (OrchestrationStarted, metadata). */
async function createInstance(instance: string, metadata: ExecutionMetadata = meta): Promise<void> {
  await provider.enqueueForOrchestrator(start(instance), null);
  const fetched = await fetchOne();
  expect(fetched.item.instance).toBe(instance);
  await ack(fetched, { events: [event(instance, 1, startedKind())], metadata });
}

describe("enqueue visibility", () => {
  it("makes a TimerFired visible at its fire time, not before", async () => {
    await createInstance("a");
    await provider.enqueueForOrchestrator(timer("a", T0 + 10_000), null);
    now = T0 + 9_999;
    expect(await fetch()).toBeNull();
    now = T0 + 10_000;
    expect((await fetchOne()).item.messages).toEqual([timer("a", T0 + 10_000)]);
  });

  it("uses the delay for a TimerFired with fire_at_ms 0", async () => {
    await createInstance("a");
    await provider.enqueueForOrchestrator(timer("a", 0), 5_000);
    now = T0 + 4_999;
    expect(await fetch()).toBeNull();
    now = T0 + 5_000;
    expect(await fetch()).not.toBeNull();
  });

  it("keeps a timer invisible until the later of its fire time and now + delay", async () => {
    await createInstance("a");
    await provider.enqueueForOrchestrator(timer("a", T0 + 1_000), 3_000);
    now = T0 + 2_999;
    expect(await fetch()).toBeNull();
    now = T0 + 3_000;
    expect(await fetch()).not.toBeNull();
  });

  it("delays any message by delayMs", async () => {
    await provider.enqueueForOrchestrator(start("a"), 1_000);
    expect(await fetch()).toBeNull();
    now += 1_000;
    expect((await fetchOne()).item.instance).toBe("a");
  });

  it("rejects an ActivityExecute permanently", async () => {
    const item: WorkItem = {
      ActivityExecute: { instance: "a", execution_id: 1, id: 1, name: "A", input: "{}" },
    };
    const error = await provider.enqueueForOrchestrator(item, null).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as ProviderError).retryable).toBe(false);
  });

  it("routes sub-orchestration completions to the parent's queue", async () => {
    await createInstance("parent");
    await provider.enqueueForOrchestrator(
      { SubOrchCompleted: { parent_instance: "parent", parent_execution_id: 1, parent_id: 2, result: "r" } },
      null,
    );
    const fetched = await fetchOne();
    expect(fetched.item.instance).toBe("parent");
  });

  it("never creates an instance row", async () => {
    await provider.enqueueForOrchestrator(start("a"), null);
    expect(await rows("SELECT * FROM $schema.instances")).toEqual([]);
  });
});

describe("fetch", () => {
  it("returns messages in enqueue order and the highest attempt count of the batch", async () => {
    await provider.enqueueForOrchestrator(start("a"), null);
    const first = await fetchOne();
    await provider.abandonOrchestrationItem(first.lockToken, null, false);
    await provider.enqueueForOrchestrator(poke("a"), null);
    const second = await fetchOne();
    expect(second.item.messages).toEqual([start("a"), poke("a")]);
    expect(second.attemptCount).toBe(2);
  });

  it("leaves messages that are not yet visible for a later turn", async () => {
    await createInstance("a");
    await provider.enqueueForOrchestrator(poke("a"), null);
    await provider.enqueueForOrchestrator(timer("a", T0 + 60_000), null);
    const fetched = await fetchOne();
    expect(fetched.item.messages).toEqual([poke("a")]);
    await ack(fetched);
    now = T0 + 60_000;
    expect((await fetchOne()).item.messages).toEqual([timer("a", T0 + 60_000)]);
  });

  it("takes over an expired lock with a new token and re-tags the batch", async () => {
    await provider.enqueueForOrchestrator(start("a"), null);
    const first = await fetchOne();
    now += LOCK_MS - 1;
    expect(await fetch()).toBeNull();
    now += 1;
    const second = await fetchOne();
    expect(second.lockToken).not.toBe(first.lockToken);
    expect(second.attemptCount).toBe(2);
    await expect(ack(first)).rejects.toThrow(/Invalid lock token/);
  });

  it("reports metadata, current execution and its history for an existing instance", async () => {
    await createInstance("a", { orchestrationName: "Named", orchestrationVersion: "2.0.0" });
    await provider.enqueueForOrchestrator(poke("a"), null);
    const fetched = await fetchOne();
    expect(fetched.item).toMatchObject({ orchestrationName: "Named", version: "2.0.0", executionId: 1 });
    expect(fetched.item.history.map((e) => e.type)).toEqual(["OrchestrationStarted"]);
  });

  it("reports a null stored version as unknown", async () => {
    await provider.enqueueForOrchestrator(start("a", { version: null }), null);
    const fetched = await fetchOne();
    expect(fetched.item.version).toBe("unknown");
  });

  it("derives name and execution from stored history when no instance row exists", async () => {
    await provider.enqueueForOrchestrator(start("a"), null);
    await ack(await fetchOne(), { events: [event("a", 1, startedKind("FromHistory", "3.0.0"))] });
    await provider.enqueueForOrchestrator(poke("a"), null);
    const fetched = await fetchOne();
    expect(fetched.item).toMatchObject({
      orchestrationName: "FromHistory",
      version: "3.0.0",
      executionId: 1,
    });
    expect(fetched.item.history).toHaveLength(1);
  });

  it("drops orphan QueueMessages and hands out the next ready instance in the same call", async () => {
    await provider.enqueueForOrchestrator(queueMessage("ghost"), null);
    await provider.enqueueForOrchestrator(queueMessage("ghost"), null);
    await provider.enqueueForOrchestrator(start("real"), null);
    const fetched = await fetchOne();
    expect(fetched.item.instance).toBe("real");
    expect(await rows("SELECT * FROM $schema.orchestrator_queue WHERE instance_id = 'ghost'")).toEqual([]);
    expect(await rows("SELECT * FROM $schema.instance_locks WHERE instance_id = 'ghost'")).toEqual([]);
  });

  it("keeps a message for a never-started instance, uncounted, until its start arrives", async () => {
    await provider.enqueueForOrchestrator({ CancelInstance: { instance: "early", reason: "r" } }, null);
    expect(await fetch()).toBeNull();
    expect(await fetch()).toBeNull();
    const [row] = await rows<{ attempt_count: number; lock_token: string | null }>(
      "SELECT attempt_count, lock_token FROM $schema.orchestrator_queue WHERE instance_id = 'early'",
    );
    expect(row).toEqual({ attempt_count: 0, lock_token: null });

    await provider.enqueueForOrchestrator(start("early"), null);
    const fetched = await fetchOne();
    expect(fetched.item.messages.map((m) => Object.keys(m)[0])).toEqual([
      "CancelInstance",
      "StartOrchestration",
    ]);
    expect(fetched.attemptCount).toBe(1);
  });

  it("delivers QueueMessages of an existing instance", async () => {
    await createInstance("a");
    await provider.enqueueForOrchestrator(queueMessage("a", "v3"), null);
    expect((await fetchOne()).item.messages).toEqual([queueMessage("a", "v3")]);
  });
});

describe("ack", () => {
  it("makes an acked TimerFired visible at fire_at_ms and other items at once", async () => {
    await provider.enqueueForOrchestrator(start("a"), null);
    const fetched = await fetchOne();
    await ack(fetched, {
      events: [event("a", 1, startedKind())],
      orchestratorItems: [timer("a", T0 + 30_000), start("child")],
      metadata: meta,
    });
    const child = await fetchOne();
    expect(child.item.instance).toBe("child");
    await ack(child);
    expect(await fetch()).toBeNull();
    now = T0 + 30_000;
    expect((await fetchOne()).item.instance).toBe("a");
  });

  it("stamps completed_at for Completed, Failed and ContinuedAsNew but not Running", async () => {
    for (const status of ["Running", "Completed", "Failed", "ContinuedAsNew"]) {
      const instance = `i-${status}`;
      await provider.enqueueForOrchestrator(start(instance), null);
      now += 10;
      await ack(await fetchOne(), {
        events: [event(instance, 1, startedKind())],
        metadata: { status, output: "o" },
      });
    }
    const stamped = await rows<{ instance_id: string; status: string; completed_at_ms: number | null }>(
      "SELECT instance_id, status, completed_at_ms::float8 AS completed_at_ms FROM $schema.executions ORDER BY instance_id",
    );
    expect(stamped.map((r) => [r.status, r.completed_at_ms !== null])).toEqual([
      ["Completed", true],
      ["ContinuedAsNew", true],
      ["Failed", true],
      ["Running", false],
    ]);
  });

  it("creates the instance row only when name and version are both given", async () => {
    await provider.enqueueForOrchestrator(start("a"), null);
    await ack(await fetchOne(), {
      events: [event("a", 1, startedKind())],
      metadata: { orchestrationName: "Orch" },
    });
    expect(await rows("SELECT * FROM $schema.instances")).toEqual([]);
    expect(await rows("SELECT instance_id FROM $schema.executions")).toEqual([{ instance_id: "a" }]);
  });

  it("never overwrites a parent once set, and advances the current execution monotonically", async () => {
    await createInstance("child", { ...meta, parentInstanceId: "p1" });
    await provider.enqueueForOrchestrator(poke("child"), null);
    await ack(await fetchOne(), { executionId: 3, metadata: { ...meta, parentInstanceId: "p2" } });
    await provider.enqueueForOrchestrator(poke("child"), null);
    await ack(await fetchOne(), { executionId: 2, metadata: meta });
    const [row] = await rows("SELECT parent_instance_id, current_execution_id::int FROM $schema.instances");
    expect(row).toEqual({ parent_instance_id: "p1", current_execution_id: 3 });
  });

  it("deletes only the batch it fetched; messages that arrived meanwhile stay", async () => {
    await createInstance("a");
    await provider.enqueueForOrchestrator(poke("a"), null);
    const fetched = await fetchOne();
    await provider.enqueueForOrchestrator(queueMessage("a", "later"), null);
    await ack(fetched);
    expect((await fetchOne()).item.messages).toEqual([queueMessage("a", "later")]);
  });

  it("stores events verbatim", async () => {
    await provider.enqueueForOrchestrator(start("a"), null);
    const started = event("a", 1, startedKind());
    await ack(await fetchOne(), { events: [started] });
    const [row] = await rows<{ event_type: string; event_data: string }>(
      "SELECT event_type, event_data FROM $schema.history",
    );
    expect(row).toEqual({ event_type: "OrchestrationStarted", event_data: JSON.stringify(started) });
  });
});

describe("abandon", () => {
  it("with a delay hides the batch until now + delay", async () => {
    await provider.enqueueForOrchestrator(start("a"), null);
    const fetched = await fetchOne();
    await provider.abandonOrchestrationItem(fetched.lockToken, 2_000, false);
    now += 1_999;
    expect(await fetch()).toBeNull();
    now += 1;
    expect(await fetch()).not.toBeNull();
  });

  it("without a delay leaves visibility alone and the instance fetchable at once", async () => {
    await provider.enqueueForOrchestrator(start("a"), 0);
    const fetched = await fetchOne();
    const before = await rows("SELECT visible_at_ms FROM $schema.orchestrator_queue");
    await provider.abandonOrchestrationItem(fetched.lockToken, null, false);
    expect(await rows("SELECT visible_at_ms FROM $schema.orchestrator_queue")).toEqual(before);
    expect(await fetch()).not.toBeNull();
  });

  it("ignoring the attempt gives it back, never below zero", async () => {
    await provider.enqueueForOrchestrator(start("a"), null);
    let fetched = await fetchOne();
    await provider.abandonOrchestrationItem(fetched.lockToken, null, true);
    fetched = await fetchOne();
    expect(fetched.attemptCount).toBe(1);
    await store.pool.query(`UPDATE "${store.schema}".orchestrator_queue SET attempt_count = 0`);
    await provider.abandonOrchestrationItem(fetched.lockToken, null, true);
    const [row] = await rows("SELECT attempt_count FROM $schema.orchestrator_queue");
    expect(row).toEqual({ attempt_count: 0 });
  });

  it("accepts an expired lock nobody took over, but not one that was taken over", async () => {
    await provider.enqueueForOrchestrator(start("a"), null);
    const first = await fetchOne();
    now += LOCK_MS + 1;
    await provider.abandonOrchestrationItem(first.lockToken, null, false);
    const second = await fetchOne();
    now += LOCK_MS + 1;
    const third = await fetchOne();
    await expect(provider.abandonOrchestrationItem(second.lockToken, null, false)).rejects.toThrow(
      /Invalid lock token/,
    );
    await provider.abandonOrchestrationItem(third.lockToken, null, false);
  });
});

describe("renew", () => {
  it("extends the lock from now, in milliseconds", async () => {
    await provider.enqueueForOrchestrator(start("a"), null);
    const fetched = await fetchOne(1_000);
    now += 900;
    await provider.renewOrchestrationItemLock(fetched.lockToken, 500);
    now += 499;
    expect(await fetch()).toBeNull();
    now += 1;
    expect(await fetch()).not.toBeNull();
  });

  it("fails once the lock has expired", async () => {
    await provider.enqueueForOrchestrator(start("a"), null);
    const fetched = await fetchOne(1_000);
    now += 1_000;
    await expect(provider.renewOrchestrationItemLock(fetched.lockToken, 1_000)).rejects.toThrow(
      /Invalid lock token/,
    );
  });
});

describe("history", () => {
  it("reads the execution with the highest id even without an instance row", async () => {
    for (const executionId of [1, 2]) {
      await provider.enqueueForOrchestrator(start("a", { executionId }), null);
      await ack(await fetchOne(), {
        executionId,
        events: [event("a", 1, startedKind(`E${executionId}`), executionId)],
      });
    }
    expect((await provider.read("a")).map((e) => (e as { name?: string }).name)).toEqual(["E2"]);
    expect((await provider.readWithExecution("a", 1)).map((e) => (e as { name?: string }).name)).toEqual([
      "E1",
    ]);
    expect(await provider.read("unknown")).toEqual([]);
  });

  it("appends with appendWithExecution but never overwrites an existing event", async () => {
    await provider.appendWithExecution("a", 1, [event("a", 1, startedKind("First"))]);
    const error = await provider
      .appendWithExecution("a", 1, [event("a", 1, startedKind("Second"))])
      .catch((e) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as ProviderError).retryable).toBe(false);
    expect((await provider.readWithExecution("a", 1)).map((e) => (e as { name?: string }).name)).toEqual([
      "First",
    ]);
  });

  it("rejects event_id 0 in appendWithExecution", async () => {
    await expect(provider.appendWithExecution("a", 1, [event("a", 0, startedKind())])).rejects.toThrow(
      /event_id/,
    );
  });
});

describe("custom status", () => {
  const status = (instance: string, eventId: number, value: string | null): Event =>
    event(instance, eventId, { type: "CustomStatusUpdated", status: value });

  async function turn(instance: string, events: Event[], metadata: ExecutionMetadata = {}, executionId = 1) {
    await provider.enqueueForOrchestrator(poke(instance), null);
    await ack(await fetchOne(), { events, metadata, executionId });
  }

  it("starts at version 0 with nothing to report", async () => {
    await createInstance("a");
    expect(await provider.getCustomStatus("a", 0)).toBeNull();
    expect(await provider.getCustomStatus("unknown", 0)).toBeNull();
  });

  it("applies the last update of a turn and bumps the version once per ack", async () => {
    await createInstance("a");
    await turn("a", [status("a", 2, "one"), status("a", 3, "two")]);
    expect(await provider.getCustomStatus("a", 0)).toEqual({ customStatus: "two", version: 1 });
    expect(await provider.getCustomStatus("a", 1)).toBeNull();
  });

  it("clears with a null status, still bumping the version", async () => {
    await createInstance("a");
    await turn("a", [status("a", 2, "busy")]);
    await turn("a", [status("a", 3, null)]);
    expect(await provider.getCustomStatus("a", 1)).toEqual({ customStatus: null, version: 2 });
  });

  it("leaves status and version alone when a turn has no update", async () => {
    await createInstance("a");
    await turn("a", [status("a", 2, "busy")]);
    await turn("a", [event("a", 3, { type: "ExternalEvent", name: "poke", data: "{}" })]);
    expect(await provider.getCustomStatus("a", 0)).toEqual({ customStatus: "busy", version: 1 });
  });

  it("is set by the turn that creates the instance row, and survives continue-as-new", async () => {
    await provider.enqueueForOrchestrator(start("a"), null);
    await ack(await fetchOne(), {
      events: [event("a", 1, startedKind()), status("a", 2, "first")],
      metadata: meta,
    });
    await turn("a", [], { status: "ContinuedAsNew", output: "{}" });
    await turn("a", [event("a", 1, startedKind(), 2)], meta, 2);
    expect(await provider.getCustomStatus("a", 0)).toEqual({ customStatus: "first", version: 1 });
  });

  it("is a no-op without an instance row", async () => {
    await provider.enqueueForOrchestrator(start("a"), null);
    await ack(await fetchOne(), { events: [event("a", 1, startedKind()), status("a", 2, "lost")] });
    expect(await provider.getCustomStatus("a", 0)).toBeNull();
  });
});

describe("KV", () => {
  const set = (instance: string, eventId: number, key: string, value: string, at = 7): Event =>
    event(instance, eventId, { type: "KeyValueSet", key, value, last_updated_at_ms: at });
  const clear = (instance: string, eventId: number, key: string): Event =>
    event(instance, eventId, { type: "KeyValueCleared", key });
  const clearAll = (instance: string, eventId: number): Event =>
    event(instance, eventId, { type: "KeyValuesCleared" });

  /** One turn of `instance`; returns what the fetch of that turn saw. */
  async function turn(instance: string, events: Event[], metadata: ExecutionMetadata = {}) {
    await provider.enqueueForOrchestrator(poke(instance), null);
    const fetched = await fetchOne();
    await ack(fetched, { events, metadata });
    return fetched;
  }

  it("keeps the current execution's writes out of the fetch snapshot but shows them to clients", async () => {
    await createInstance("a");
    await turn("a", [set("a", 2, "counter", "1")]);
    const next = await turn("a", []);
    expect(next.item.kvSnapshot.size).toBe(0);
    expect(await provider.getKvValue("a", "counter")).toBe("1");
    expect(await provider.getKvAllValues("a")).toEqual(new Map([["counter", "1"]]));
  });

  it("folds the delta into the snapshot when the execution ends", async () => {
    await createInstance("a");
    await turn("a", [set("a", 2, "k", "v", 42)], { status: "ContinuedAsNew", output: "{}" });
    const next = await turn("a", []);
    expect(next.item.kvSnapshot).toEqual(new Map([["k", { value: "v", lastUpdatedAtMs: 42 }]]));
    const [row] = await rows("SELECT key, execution_id::int FROM $schema.kv_store");
    expect(row).toEqual({ key: "k", execution_id: 1 });
    expect(await rows("SELECT * FROM $schema.kv_delta")).toEqual([]);
  });

  it("applies the operations of one turn in order: clear-all then set leaves only the new key", async () => {
    await createInstance("a");
    await turn("a", [set("a", 2, "old", "1"), set("a", 3, "gone", "2")], {
      status: "ContinuedAsNew",
      output: "",
    });
    await turn("a", [set("a", 4, "pending", "3"), clearAll("a", 5), set("a", 6, "new", "4")]);
    expect(await provider.getKvAllValues("a")).toEqual(new Map([["new", "4"]]));
    expect(await provider.getKvValue("a", "old")).toBeNull();

    await turn("a", [], { status: "Completed", output: "" });
    expect(await rows("SELECT key, value FROM $schema.kv_store ORDER BY key")).toEqual([
      { key: "new", value: "4" },
    ]);
  });

  it("tombstones a stored key until the execution ends, then deletes it", async () => {
    await createInstance("a");
    await turn("a", [set("a", 2, "k", "v"), set("a", 3, "keep", "x")], {
      status: "ContinuedAsNew",
      output: "",
    });
    await turn("a", [clear("a", 4, "k")]);
    expect(await provider.getKvValue("a", "k")).toBeNull();
    expect(await provider.getKvAllValues("a")).toEqual(new Map([["keep", "x"]]));
    const snapshot = await turn("a", [], { status: "Failed", output: "boom" });
    expect([...snapshot.item.kvSnapshot.keys()]).toEqual(["k", "keep"]);
    expect(await rows("SELECT key FROM $schema.kv_store")).toEqual([{ key: "keep" }]);
  });

  it("treats an empty string as a real value and unknown instances as empty", async () => {
    await createInstance("a");
    await turn("a", [set("a", 2, "empty", "")]);
    expect(await provider.getKvValue("a", "empty")).toBe("");
    expect(await provider.getKvValue("nobody", "k")).toBeNull();
    expect(await provider.getKvAllValues("nobody")).toEqual(new Map());
  });

  it("rolls back KV writes with a failed ack", async () => {
    await createInstance("a");
    await provider.enqueueForOrchestrator(poke("a"), null);
    const fetched = await fetchOne();
    await expect(ack(fetched, { events: [set("a", 1, "k", "v")] })).rejects.toThrow(ProviderError);
    expect(await provider.getKvValue("a", "k")).toBeNull();
  });
});

describe("worker items and cancellation", () => {
  const activity = (
    instance: string,
    id: number,
    options: { tag?: string; sessionId?: string } = {},
  ): WorkItem => ({
    ActivityExecute: {
      instance,
      execution_id: 1,
      id,
      name: `A${id}`,
      input: "{}",
      ...(options.sessionId === undefined ? {} : { session_id: options.sessionId }),
      ...(options.tag === undefined ? {} : { tag: options.tag }),
    },
  });

  async function ackTurn(instance: string, workerItems: WorkItem[], cancelled: [string, number, number][]) {
    await provider.enqueueForOrchestrator(poke(instance), null);
    const fetched = await fetchOne();
    await provider.ackOrchestrationItem(
      fetched.lockToken,
      1,
      [],
      workerItems,
      [],
      {},
      cancelled.map(([i, executionId, activityId]) => ({ instance: i, executionId, activityId })),
    );
  }

  const workerRows = () =>
    rows<{ activity_id: number; tag: string | null; session_id: string | null }>(
      "SELECT activity_id::int, tag, session_id FROM $schema.worker_queue ORDER BY id",
    );

  it("stores worker items in order with their identity, session and tag columns", async () => {
    await createInstance("a");
    await ackTurn(
      "a",
      [activity("a", 2, { tag: "gpu" }), activity("a", 3, { sessionId: "s1" }), activity("a", 4)],
      [],
    );
    expect(await workerRows()).toEqual([
      { activity_id: 2, tag: "gpu", session_id: null },
      { activity_id: 3, tag: null, session_id: "s1" },
      { activity_id: 4, tag: null, session_id: null },
    ]);
  });

  it("deletes cancelled activities whether locked or not, and only those", async () => {
    await createInstance("a");
    await ackTurn("a", [activity("a", 2), activity("a", 3), activity("a", 4)], []);
    await store.pool.query(
      `UPDATE "${store.schema}".worker_queue SET lock_token = 'held', locked_until = $1 WHERE activity_id = 2`,
      [now + 60_000],
    );
    await ackTurn(
      "a",
      [],
      [
        ["a", 1, 2],
        ["a", 1, 3],
        ["a", 2, 4], // another execution: not this row
        ["a", 1, 99], // nothing to cancel
      ],
    );
    expect((await workerRows()).map((r) => r.activity_id)).toEqual([4]);
  });

  it("leaves nothing behind for an activity scheduled and cancelled in the same turn", async () => {
    await createInstance("a");
    await ackTurn("a", [activity("a", 2), activity("a", 3)], [["a", 1, 2]]);
    expect((await workerRows()).map((r) => r.activity_id)).toEqual([3]);
  });
});

describe("capability filtering", () => {
  const v = (major: number, minor: number, patch: number) => ({ major, minor, patch });
  const range = (min: [number, number, number], max: [number, number, number]) => ({
    supportedDuroxideVersions: [{ min: v(...min), max: v(...max) }],
  });

  /** Instances whose execution 1 is pinned as given (null: unpinned), each with a message waiting. */
  async function pinned(...instances: [string, [number, number, number] | null][]): Promise<void> {
    for (const [instance, pin] of instances) {
      await createInstance(instance, { ...meta, pinnedDuroxideVersion: pin ? v(...pin) : null });
    }
    for (const [instance] of instances) await provider.enqueueForOrchestrator(poke(instance), null);
  }

  it("returns nothing, without querying, for an empty range list", async () => {
    await pinned(["a", null]);
    expect(await provider.fetchOrchestrationItem(LOCK_MS, 0, { supportedDuroxideVersions: [] })).toBeNull();
  });

  it("skips instances pinned outside the range and hands out the ones inside", async () => {
    await pinned(["new", [99, 0, 0]], ["old", [1, 5, 3]]);
    const fetched = await provider.fetchOrchestrationItem(LOCK_MS, 0, range([1, 0, 0], [2, 0, 0]));
    expect(fetched?.item.instance).toBe("old");
    expect(await provider.fetchOrchestrationItem(LOCK_MS, 0, range([1, 0, 0], [2, 0, 0]))).toBeNull();
    expect(await rows("SELECT instance_id FROM $schema.instance_locks")).toEqual([{ instance_id: "old" }]);
  });

  it("includes both ends of the range and treats unpinned or unknown instances as compatible", async () => {
    await pinned(["low", [1, 0, 0]], ["high", [2, 0, 0]], ["unpinned", null]);
    await provider.enqueueForOrchestrator(start("fresh"), null);
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      const fetched = await provider.fetchOrchestrationItem(LOCK_MS, 0, range([1, 0, 0], [2, 0, 0]));
      seen.push(fetched?.item.instance ?? "none");
    }
    expect(seen.sort()).toEqual(["fresh", "high", "low", "unpinned"]);
  });

  it("uses only the first range", async () => {
    await pinned(["a", [3, 0, 0]]);
    const filter = {
      supportedDuroxideVersions: [
        { min: v(1, 0, 0), max: v(2, 0, 0) },
        { min: v(3, 0, 0), max: v(4, 0, 0) },
      ],
    };
    expect(await provider.fetchOrchestrationItem(LOCK_MS, 0, filter)).toBeNull();
  });

  it("filters before reading history: a corrupt out-of-range instance yields nothing", async () => {
    await pinned(["future", [99, 0, 0]]);
    await store.pool.query(`UPDATE "${store.schema}".history SET event_data = 'not json{'`);
    expect(await provider.fetchOrchestrationItem(LOCK_MS, 0, range([1, 0, 0], [2, 0, 0]))).toBeNull();
    const unfiltered = await provider.fetchOrchestrationItem(LOCK_MS, 0, null);
    expect(unfiltered?.item.historyError).not.toBeNull();
  });

  it("compares against the current execution's pin, which continue-as-new replaces", async () => {
    await pinned(["a", [1, 0, 0]]);
    const first = await fetchOne();
    await ack(first, {
      metadata: { status: "ContinuedAsNew", output: "{}" },
      orchestratorItems: [poke("a")],
    });
    const second = await fetchOne();
    await ack(second, {
      executionId: 2,
      events: [event("a", 1, startedKind(), 2)],
      metadata: { ...meta, pinnedDuroxideVersion: v(5, 0, 0) },
    });
    await provider.enqueueForOrchestrator(poke("a"), null);
    expect(await provider.fetchOrchestrationItem(LOCK_MS, 0, range([1, 0, 0], [2, 0, 0]))).toBeNull();
    expect(
      (await provider.fetchOrchestrationItem(LOCK_MS, 0, range([5, 0, 0], [5, 0, 0])))?.item.instance,
    ).toBe("a");
    const pins = await rows(
      "SELECT execution_id::int, duroxide_version_major AS major FROM $schema.executions ORDER BY 1",
    );
    expect(pins).toEqual([
      { execution_id: 1, major: 1 },
      { execution_id: 2, major: 5 },
    ]);
  });
});
