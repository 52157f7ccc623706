/**
 * Hostile strings through the provider: instance ids, orchestration / activity / event names, KV
 * keys and values, custom status, inputs, outputs and error messages full of quotes, SQL, format
 * specifiers, unicode, control characters, NUL, lone surrogates and 10 MB. Each either round-trips
 * exactly (enqueue → fetch → ack → read history / KV / custom status / instance info) or is refused
 * with a clear permanent ProviderError that writes nothing; a bystander instance never changes.
 *
 * Decisions these tests pin down:
 *  - NUL (U+0000) round-trips wherever the string lives only inside stored JSON (JSON escapes it as
 *    \u0000 and serde reads it back); where it would land in a text column (instance ids, KV keys
 *    and values, custom status, output, names in metadata) Postgres cannot store it, so it is
 *    refused up front, naming the field.
 *  - A lone UTF-16 surrogate is refused everywhere: it is not Unicode, duroxide (serde_json into Rust
 *    strings) cannot read it back, and in a text column the driver would silently store U+FFFD.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { quoteSchema } from "../../src/migrate/migrations.ts";
import { PostgresProvider } from "../../src/provider/postgres-provider.ts";
import type { Event, ExecutionMetadata, WorkItem } from "../../src/provider/types.ts";
import { createTestSchema, type TestSchema } from "../../src/testing/test-schema.ts";
import {
  activity,
  appError,
  event,
  expectPermanent,
  fetchReadyOrchestrationItem,
  fetchReadyWorkItem,
  instanceRows,
  snapshot,
  startedEvent,
  startItem,
} from "./hostile-helpers.ts";

const LOCK_MS = 30_000;
const BYSTANDER = "bystander";

let store: TestSchema;
let provider: PostgresProvider;
let bystanderBefore: Record<string, string[]>;

beforeEach(async () => {
  store = await createTestSchema({ prefix: "hostile_in" });
  provider = await PostgresProvider.create({ pool: store.pool, schema: store.schema, longPoll: false });
  await createBystander();
  bystanderBefore = await instanceRows(store.pool, store.schema, BYSTANDER);
});

afterEach(async () => {
  await provider.close();
  await store.drop();
});

const fetchOrch = () => fetchReadyOrchestrationItem(provider, LOCK_MS);
const fetchWork = () => fetchReadyWorkItem(provider, LOCK_MS);

/** A completed instance with history, KV in kv_store and a custom status: it must never change. */
async function createBystander(): Promise<void> {
  await provider.enqueueForOrchestrator(startItem(BYSTANDER), null);
  const fetched = await fetchOrch();
  await provider.ackOrchestrationItem(
    fetched.lockToken,
    1,
    [
      startedEvent(BYSTANDER),
      event(BYSTANDER, 2, { type: "CustomStatusUpdated", status: "calm" }),
      event(BYSTANDER, 3, { type: "KeyValueSet", key: "k", value: "v", last_updated_at_ms: 7 }),
      event(BYSTANDER, 4, { type: "OrchestrationCompleted", output: '"done"' }),
    ],
    [],
    [],
    { orchestrationName: "Orch", orchestrationVersion: "1.0.0", status: "Completed", output: '"done"' },
    [],
  );
}

async function expectBystanderUnchanged(): Promise<void> {
  expect(await instanceRows(store.pool, store.schema, BYSTANDER), "bystander rows").toEqual(bystanderBefore);
  expect(await provider.read(BYSTANDER)).toHaveLength(4);
  expect(await provider.getKvValue(BYSTANDER, "k")).toBe("v");
  expect(await provider.getCustomStatus(BYSTANDER, 0)).toEqual({ customStatus: "calm", version: 1 });
}

/** The strings one instance's round trip uses, one per place a user string can go. */
interface Fields {
  instance: string;
  orchestration: string;
  activity: string;
  eventName: string;
  kvKey: string;
  kvValue: string;
  customStatus: string;
  input: string;
  result: string;
  output: string;
  errorMessage: string;
}

function allFields(value: string): Fields {
  return {
    instance: value,
    orchestration: value,
    activity: value,
    eventName: value,
    kvKey: value,
    kvValue: value,
    customStatus: value,
    input: value,
    result: value,
    output: value,
    errorMessage: value,
  };
}

function hex(value: string): string {
  return Buffer.from(value, "utf8").toString("hex");
}

/**
 * One instance through every path that carries user strings, asserting at each step that what comes
 * back equals what went in, and at the end that the stored bytes are the UTF-8 of the input.
 */
async function roundTrip(f: Fields): Promise<void> {
  const { instance } = f;
  const start = startItem(instance, f.orchestration, f.input);
  await provider.enqueueForOrchestrator(start, null);
  const first = await fetchOrch();
  expect(first.item.instance).toBe(instance);
  expect(first.item.orchestrationName).toBe(f.orchestration);
  expect(first.item.messages).toEqual([start]);

  const turn1: Event[] = [
    startedEvent(instance, f.orchestration, f.input),
    event(instance, 2, { type: "ActivityScheduled", name: f.activity, input: f.input }),
    event(instance, 3, { type: "ActivityScheduled", name: f.activity, input: f.input }),
    event(instance, 4, { type: "ExternalSubscribed", name: f.eventName }),
    event(instance, 5, { type: "CustomStatusUpdated", status: f.customStatus }),
    event(instance, 6, { type: "KeyValueSet", key: f.kvKey, value: f.kvValue, last_updated_at_ms: 42 }),
  ];
  const work = [activity(instance, 2, f.activity, f.input), activity(instance, 3, f.activity, f.input)];
  const running: ExecutionMetadata = {
    orchestrationName: f.orchestration,
    orchestrationVersion: "1.0.0",
    status: "Running",
  };
  await provider.ackOrchestrationItem(first.lockToken, 1, turn1, work, [], running, []);
  expect(await provider.getCustomStatus(instance, 0)).toEqual({ customStatus: f.customStatus, version: 1 });
  expect(await provider.getKvValue(instance, f.kvKey)).toBe(f.kvValue);

  const w1 = await fetchWork();
  const w2 = await fetchWork();
  expect([w1.item, w2.item]).toEqual(work);
  const completed: WorkItem = { ActivityCompleted: { instance, execution_id: 1, id: 2, result: f.result } };
  const failed: WorkItem = {
    ActivityFailed: { instance, execution_id: 1, id: 3, details: appError(f.errorMessage) },
  };
  await provider.ackWorkItem(w1.lockToken, completed);
  await provider.ackWorkItem(w2.lockToken, failed);
  const raised: WorkItem = { ExternalRaised: { instance, name: f.eventName, data: f.input } };
  const queued: WorkItem = { QueueMessage: { instance, name: f.eventName, data: f.result } };
  await provider.enqueueForOrchestrator(raised, null);
  await provider.enqueueForOrchestrator(queued, null);

  const second = await fetchOrch();
  expect(second.item.instance).toBe(instance);
  expect(second.item.orchestrationName).toBe(f.orchestration);
  expect(second.item.historyError).toBeNull();
  expect(second.item.history).toEqual(turn1);
  expect(second.item.messages).toEqual([completed, failed, raised, queued]);

  const turn2: Event[] = [
    event(instance, 7, { type: "ActivityCompleted", result: f.result }, 2),
    event(instance, 8, { type: "ActivityFailed", details: appError(f.errorMessage) }, 3),
    event(instance, 9, { type: "ExternalEvent", name: f.eventName, data: f.input }),
    event(instance, 10, { type: "ExternalEventPersistent", name: f.eventName, data: f.result }),
    event(instance, 11, { type: "OrchestrationCompleted", output: f.output }),
  ];
  await provider.ackOrchestrationItem(
    second.lockToken,
    1,
    turn2,
    [],
    [],
    { status: "Completed", output: f.output },
    [],
  );

  const history = [...turn1, ...turn2];
  expect(await provider.read(instance)).toEqual(history);
  expect(await provider.readWithExecution(instance, 1)).toEqual(history);
  expect(await provider.getKvValue(instance, f.kvKey)).toBe(f.kvValue);
  expect(await provider.getKvAllValues(instance)).toEqual(new Map([[f.kvKey, f.kvValue]]));
  expect(await provider.getCustomStatus(instance, 0)).toEqual({ customStatus: f.customStatus, version: 1 });
  const info = await provider.asManagementCapability().getInstanceInfo(instance);
  expect(info).toMatchObject({
    instanceId: instance,
    orchestrationName: f.orchestration,
    status: "Completed",
    output: f.output,
  });

  // The KV merged at completion comes back in the next turn's snapshot.
  await provider.enqueueForOrchestrator({ ExternalRaised: { instance, name: "late", data: "{}" } }, null);
  const third = await fetchOrch();
  expect(third.item.kvSnapshot).toEqual(new Map([[f.kvKey, { value: f.kvValue, lastUpdatedAtMs: 42 }]]));
  await provider.ackOrchestrationItem(third.lockToken, 1, [], [], [], {}, []);

  // Byte for byte in storage: the history rows are the JSON text the provider wrote, and the text
  // columns hold the UTF-8 of the strings given.
  const q = quoteSchema(store.schema);
  const stored = await store.pool.query<{ event_data: string }>(
    `SELECT event_data FROM ${q}.history WHERE instance_id = $1 ORDER BY event_id`,
    [instance],
  );
  expect(stored.rows.map((r) => r.event_data)).toEqual(history.map((e) => JSON.stringify(e)));
  const columns = await store.pool.query<Record<string, string>>(
    `SELECT encode(convert_to(i.instance_id, 'UTF8'), 'hex') AS instance,
            encode(convert_to(i.orchestration_name, 'UTF8'), 'hex') AS orchestration,
            encode(convert_to(i.custom_status, 'UTF8'), 'hex') AS custom_status,
            encode(convert_to(e.output, 'UTF8'), 'hex') AS output,
            encode(convert_to(k.key, 'UTF8'), 'hex') AS kv_key,
            encode(convert_to(k.value, 'UTF8'), 'hex') AS kv_value
       FROM ${q}.instances i
       JOIN ${q}.executions e ON e.instance_id = i.instance_id
       JOIN ${q}.kv_store k ON k.instance_id = i.instance_id
      WHERE i.instance_id = $1`,
    [instance],
  );
  expect(columns.rows).toEqual([
    {
      instance: hex(instance),
      orchestration: hex(f.orchestration),
      custom_status: hex(f.customStatus),
      output: hex(f.output),
      kv_key: hex(f.kvKey),
      kv_value: hex(f.kvValue),
    },
  ]);
  const leftovers = await store.pool.query(
    `SELECT 1 FROM ${q}.orchestrator_queue UNION ALL SELECT 1 FROM ${q}.worker_queue
     UNION ALL SELECT 1 FROM ${q}.instance_locks`,
  );
  expect(leftovers.rowCount, "no queue row or lock left behind").toBe(0);
  await expectBystanderUnchanged();
}

const CONTROL_CHARACTERS =
  Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)).join("") +
  "\u007f\u0080\u0085\u009f\u2028\u2029\u200b\ufeff\ufffe\uffff";

/** 10 MiB of UTF-8 mixing multi-byte, JSON-escaped and plain characters. */
const TEN_MB = (() => {
  const unit = `q'"\\😀é\n\t${"x".repeat(24)}`;
  return unit.repeat(Math.ceil((10 * 1024 * 1024) / Buffer.byteLength(unit, "utf8")));
})();

const HOSTILE: ReadonlyArray<readonly [string, string]> = [
  ["single and double quotes", `it's a "quoted" 'string' '' "" \`tick\``],
  // Literal backslash sequences, including text that spells a lone-surrogate and a NUL escape.
  ["backslashes", String.raw`C:\temp\new \\server\share \" \' \n \u0041 \ud800 \u0000 \x00 \\`],
  ["an SQL injection", "'); DROP TABLE instances; --"],
  ["dollar placeholders and dollar quotes", "$1 $2::text $$ $body$ '); $$; SELECT 1; --"],
  ["format specifiers", "%I %s %L %% %1$s %n %d %x"],
  [
    "JSON-looking text",
    '{"StartOrchestration":{"instance":"x"},"type":"OrchestrationCompleted","event_id":1}',
  ],
  ["JSON literals", 'null true [] {} "quoted" 1e999'],
  ["emoji", "😀 👨‍👩‍👧‍👦 🏳️‍🌈 🧑🏽‍💻 \u{1F600}"],
  ["right-to-left text and bidi overrides", "مرحبا بالعالم \u202Eevil\u202C שלום \u200F\u061C"],
  ["combining marks", "e\u0301 a\u0308\u0323 Z\u0351\u0352\u0353\u0354\u0355 \u0345\u20DD"],
  ["control characters other than NUL", CONTROL_CHARACTERS],
];

describe("hostile strings in every field", () => {
  it.each(HOSTILE)("round-trip byte for byte: %s", async (_label, value) => {
    await roundTrip(allFields(value));
  });

  it("round-trip a 10 MB orchestration input, activity input and activity result through both queues", async () => {
    const start = startItem("big", "Orch", TEN_MB);
    await provider.enqueueForOrchestrator(start, null);
    const first = await fetchOrch();
    expect(first.item.messages).toEqual([start]);
    const work = activity("big", 2, "A", TEN_MB);
    await provider.ackOrchestrationItem(first.lockToken, 1, [startedEvent("big")], [work], [], {}, []);

    const fetchedWork = await fetchWork();
    expect(fetchedWork.item).toEqual(work);
    const completed: WorkItem = {
      ActivityCompleted: { instance: "big", execution_id: 1, id: 2, result: TEN_MB },
    };
    await provider.ackWorkItem(fetchedWork.lockToken, completed);
    const second = await fetchOrch();
    expect(second.item.messages).toEqual([completed]);
    expect(second.item.history).toEqual([startedEvent("big")]);
    await provider.ackOrchestrationItem(second.lockToken, 1, [], [], [], {}, []);
    expect(await provider.read("big")).toEqual([startedEvent("big")]);
    const after = await snapshot(store.pool, store.schema);
    expect([after.orchestrator_queue, after.worker_queue, after.instance_locks]).toEqual([[], [], []]);
    await expectBystanderUnchanged();
  });

  it("round-trip a 10 MB event name and data, error message, KV value, custom status and output", async () => {
    await provider.enqueueForOrchestrator(startItem("big"), null);
    const fetched = await fetchOrch();
    const delta: Event[] = [
      startedEvent("big"),
      event("big", 2, { type: "ExternalEvent", name: TEN_MB, data: TEN_MB }),
      event("big", 3, { type: "CustomStatusUpdated", status: TEN_MB }),
      event("big", 4, { type: "KeyValueSet", key: "k", value: TEN_MB, last_updated_at_ms: 5 }),
      event("big", 5, { type: "OrchestrationFailed", details: appError(TEN_MB) }),
    ];
    const meta: ExecutionMetadata = {
      orchestrationName: "Orch",
      orchestrationVersion: "1.0.0",
      status: "Failed",
      output: TEN_MB,
    };
    await provider.ackOrchestrationItem(fetched.lockToken, 1, delta, [], [], meta, []);
    expect(await provider.read("big")).toEqual(delta);
    expect(await provider.getKvValue("big", "k")).toBe(TEN_MB);
    expect(await provider.getCustomStatus("big", 0)).toEqual({ customStatus: TEN_MB, version: 1 });
    const info = await provider.asManagementCapability().getInstanceInfo("big");
    expect(info.status).toBe("Failed");
    expect(info.output === TEN_MB, "output is the same 10 MB string").toBe(true);
    await expectBystanderUnchanged();
  });

  it("refuse a 10 MB instance id or KV key (indexed columns) with a permanent error, writing nothing", async () => {
    const big = "i".repeat(10 * 1024 * 1024);
    const before = await snapshot(store.pool, store.schema);
    await expectPermanent(provider.enqueueForOrchestrator(startItem(big), null), /index row/);
    expect(await snapshot(store.pool, store.schema)).toEqual(before);

    await provider.enqueueForOrchestrator(startItem("small"), null);
    const fetched = await fetchOrch();
    const locked = await snapshot(store.pool, store.schema);
    await expectPermanent(
      provider.ackOrchestrationItem(
        fetched.lockToken,
        1,
        [
          startedEvent("small"),
          event("small", 2, { type: "KeyValueSet", key: big, value: "v", last_updated_at_ms: 1 }),
        ],
        [],
        [],
        { orchestrationName: "Orch", orchestrationVersion: "1.0.0", status: "Running" },
        [],
      ),
      /index row/,
    );
    expect(await snapshot(store.pool, store.schema)).toEqual(locked);
    await expectBystanderUnchanged();
  });
});

describe("NUL characters", () => {
  it("round-trip inside JSON payloads: activity and event names, inputs, results, event data, error messages", async () => {
    const nul = "before\u0000after\u0000";
    await roundTrip({
      ...allFields("clean"),
      activity: nul,
      eventName: nul,
      input: nul,
      result: nul,
      errorMessage: nul,
    });
    // Stored as the JSON escape, never as a raw NUL.
    const { rows } = await store.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${quoteSchema(store.schema)}.history
        WHERE instance_id = 'clean' AND strpos(event_data, '\\u0000') > 0`,
    );
    expect(rows[0]?.n).toBe(8);
  });

  it("in an instance id: enqueue, worker enqueue and reads are refused clearly, nothing written", async () => {
    const id = "a\u0000b";
    const before = await snapshot(store.pool, store.schema);
    const pattern = /instance id contains a NUL character/;
    await expectPermanent(provider.enqueueForOrchestrator(startItem(id), null), pattern);
    await expectPermanent(
      provider.enqueueForOrchestrator({ ExternalRaised: { instance: id, name: "e", data: "{}" } }, null),
      pattern,
    );
    await expectPermanent(provider.enqueueForWorker(activity(id, 1)), pattern);
    await expectPermanent(provider.read(id), pattern);
    await expectPermanent(provider.readWithExecution(id, 1), pattern);
    await expectPermanent(provider.getCustomStatus(id, 0), pattern);
    await expectPermanent(provider.getKvValue(id, "k"), pattern);
    await expectPermanent(provider.getKvAllValues(id), pattern);
    await expectPermanent(provider.appendWithExecution(id, 1, [startedEvent(id)]), pattern);
    expect(await snapshot(store.pool, store.schema)).toEqual(before);
  });

  const NUL_IN_ACK: ReadonlyArray<
    readonly [string, RegExp, (delta: Event[], meta: ExecutionMetadata) => void]
  > = [
    ["the KV key", /KV key contains a NUL/, (d) => d.push(kvSet("k\u0000", "v"))],
    ["the KV value", /KV value contains a NUL/, (d) => d.push(kvSet("k", "v\u0000"))],
    [
      "the custom status",
      /custom status contains a NUL/,
      (d) => d.push(event("i", 3, { type: "CustomStatusUpdated", status: "s\u0000" })),
    ],
    ["the output", /metadata output contains a NUL/, (_d, m) => Object.assign(m, { output: "o\u0000" })],
    [
      "the orchestration name",
      /metadata orchestration name contains a NUL/,
      (_d, m) => Object.assign(m, { orchestrationName: "O\u0000" }),
    ],
  ];

  it.each(NUL_IN_ACK)(
    "in %s: the ack is refused clearly, nothing is written and the lock still commits a clean turn",
    async (_label, pattern, poison) => {
      await provider.enqueueForOrchestrator(startItem("i"), null);
      const fetched = await fetchOrch();
      const before = await snapshot(store.pool, store.schema);
      const delta = [startedEvent("i")];
      const meta: ExecutionMetadata = {
        orchestrationName: "Orch",
        orchestrationVersion: "1.0.0",
        status: "Completed",
        output: "{}",
      };
      poison(delta, meta);
      await expectPermanent(
        provider.ackOrchestrationItem(fetched.lockToken, 1, delta, [activity("i", 9)], [], meta, []),
        pattern,
      );
      expect(await snapshot(store.pool, store.schema), "nothing half-written").toEqual(before);
      await provider.ackOrchestrationItem(
        fetched.lockToken,
        1,
        [startedEvent("i")],
        [],
        [],
        { orchestrationName: "Orch", orchestrationVersion: "1.0.0" },
        [],
      );
      expect(await provider.read("i")).toEqual([startedEvent("i")]);
      await expectBystanderUnchanged();
    },
  );

  it("in a completion's instance id: the work item ack is refused clearly and the item stays locked", async () => {
    await provider.enqueueForWorker(activity("w", 1));
    const fetched = await fetchWork();
    const before = await snapshot(store.pool, store.schema);
    await expectPermanent(
      provider.ackWorkItem(fetched.lockToken, {
        ActivityCompleted: { instance: "w\u0000", execution_id: 1, id: 1, result: "{}" },
      }),
      /completion instance id contains a NUL/,
    );
    expect(await snapshot(store.pool, store.schema)).toEqual(before);
    await provider.ackWorkItem(fetched.lockToken, null);
  });
});

function kvSet(key: string, value: string): Event {
  return event("i", 2, { type: "KeyValueSet", key, value, last_updated_at_ms: 1 });
}

describe("lone UTF-16 surrogates", () => {
  const lone = "x\uD800y";
  const tail = "\uDFFF";

  it.each<readonly [string, () => Promise<unknown>]>([
    ["an instance id on enqueue", () => provider.enqueueForOrchestrator(startItem(`id${tail}`), null)],
    [
      "event data on enqueue",
      () =>
        provider.enqueueForOrchestrator({ ExternalRaised: { instance: "i", name: "e", data: lone } }, null),
    ],
    [
      "an event name on enqueue",
      () =>
        provider.enqueueForOrchestrator({ QueueMessage: { instance: "i", name: tail, data: "{}" } }, null),
    ],
    ["an activity input on worker enqueue", () => provider.enqueueForWorker(activity("i", 1, "A", lone))],
    ["an instance id on read", () => provider.read(`id${tail}`)],
    ["a KV key on read", () => provider.getKvValue("i", lone)],
  ])("are refused in %s, writing nothing", async (_label, call) => {
    const before = await snapshot(store.pool, store.schema);
    await expectPermanent(call(), /lone UTF-16 surrogate/);
    expect(await snapshot(store.pool, store.schema)).toEqual(before);
  });

  it.each<readonly [string, (d: Event[], w: WorkItem[]) => void]>([
    ["an event's input", (d) => d.push(event("i", 2, { type: "ActivityScheduled", name: "A", input: lone }))],
    ["a KV value", (d) => d.push(kvSet("k", lone))],
    ["a custom status", (d) => d.push(event("i", 2, { type: "CustomStatusUpdated", status: tail }))],
    ["a worker item's name", (_d, w) => w.push(activity("i", 2, lone))],
  ])("are refused in %s at ack, writing nothing and keeping the lock", async (_label, poison) => {
    await provider.enqueueForOrchestrator(startItem("i"), null);
    const fetched = await fetchOrch();
    const before = await snapshot(store.pool, store.schema);
    const delta = [startedEvent("i")];
    const workers: WorkItem[] = [];
    poison(delta, workers);
    await expectPermanent(
      provider.ackOrchestrationItem(fetched.lockToken, 1, delta, workers, [], {}, []),
      /lone UTF-16 surrogate/,
    );
    expect(await snapshot(store.pool, store.schema)).toEqual(before);
    await provider.ackOrchestrationItem(fetched.lockToken, 1, [startedEvent("i")], [], [], {}, []);
  });

  it("are refused in an activity error message at work item ack, which keeps the item locked", async () => {
    await provider.enqueueForWorker(activity("w", 1));
    const fetched = await fetchWork();
    const before = await snapshot(store.pool, store.schema);
    await expectPermanent(
      provider.ackWorkItem(fetched.lockToken, {
        ActivityFailed: { instance: "w", execution_id: 1, id: 1, details: appError(lone) },
      }),
      /lone UTF-16 surrogate/,
    );
    expect(await snapshot(store.pool, store.schema)).toEqual(before);
    await provider.renewWorkItemLock(fetched.lockToken, LOCK_MS);
  });

  it("never reach the U+FFFD instance Postgres would have stored in their place", async () => {
    // Without the check the driver encodes "id\uD800" as "id\uFFFD": the enqueue would join this
    // instance's queue and the read would return its history.
    const replaced = "id\uFFFD";
    await roundTrip({ ...allFields("clean"), instance: replaced });
    const before = await instanceRows(store.pool, store.schema, replaced);
    await expectPermanent(
      provider.enqueueForOrchestrator(
        { ExternalRaised: { instance: "id\uD800", name: "e", data: "{}" } },
        null,
      ),
      /instance id contains a lone UTF-16 surrogate/,
    );
    await expectPermanent(provider.read("id\uD800"), /lone UTF-16 surrogate/);
    await expectPermanent(provider.getKvAllValues("id\uDBFF"), /lone UTF-16 surrogate/);
    // Admin calls too: deleting or inspecting "id\uD800" must not touch "id\uFFFD".
    const admin = provider.asManagementCapability()!;
    await expectPermanent(admin.deleteInstance("id\uD800", true), /lone UTF-16 surrogate/);
    await expectPermanent(admin.getInstanceInfo("id\uD800"), /lone UTF-16 surrogate/);
    await expectPermanent(admin.listExecutions("id\uDC00"), /lone UTF-16 surrogate/);
    await expectPermanent(admin.getInstanceInfo("a\u0000b"), /NUL character/);
    expect(await instanceRows(store.pool, store.schema, replaced)).toEqual(before);
  });

  it("in well-formed pairs (astral characters) are not lone and round-trip", async () => {
    await roundTrip(allFields("pair \uD83D\uDE00 \uD800\uDC00 \uDBFF\uDFFF"));
  });
});
