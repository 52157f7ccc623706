/**
 * The ack's turn document (src/provider/turn-document.ts): built from the provider's arguments with
 * every field named, validated once (a mistyped value is refused with a permanent error naming the
 * field, before any round trip, and the lock still commits a clean turn), and events stored as the
 * exact text the codec produced.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { quoteSchema } from "../../src/migrate/migrations.ts";
import { CodecError, encodeEvent } from "../../src/provider/codec.ts";
import { ProviderError } from "../../src/provider/errors.ts";
import { PostgresProvider } from "../../src/provider/postgres-provider.ts";
import { type AckOrchestrationArgs, buildAckTurn, encodeAckTurn } from "../../src/provider/turn-document.ts";
import type { Event, EventKind, WorkItem } from "../../src/provider/types.ts";
import { createTestSchema, type TestSchema } from "../../src/testing/test-schema.ts";

function event(instance: string, eventId: number, kind: EventKind): Event {
  return {
    event_id: eventId,
    source_event_id: null,
    instance_id: instance,
    execution_id: 1,
    timestamp_ms: 1_700_000_000_000,
    duroxide_version: "0.1.32",
    ...kind,
  } as Event;
}

const started = (instance: string) =>
  event(instance, 1, {
    type: "OrchestrationStarted",
    name: "Orch",
    version: "1.0.0",
    input: "{}",
    parent_instance: null,
    parent_id: null,
  });

function turn(overrides: Partial<AckOrchestrationArgs> = {}): Omit<AckOrchestrationArgs, "lockToken"> {
  return {
    executionId: 1,
    historyDelta: [started("i")],
    workerItems: [],
    orchestratorItems: [],
    metadata: { orchestrationName: "Orch", orchestrationVersion: "1.0.0", status: "Running" },
    cancelledActivities: [],
    ...overrides,
  };
}

describe("buildAckTurn", () => {
  it("names every value by the SQL side's field, leaving absent ones out", () => {
    const work: WorkItem = {
      ActivityExecute: { instance: "i", execution_id: 1, id: 2, name: "A", input: "{}", tag: "gpu" },
    };
    const built = buildAckTurn(
      turn({
        historyDelta: [
          started("i"),
          event("i", 2, { type: "KeyValueSet", key: "k", value: "v", last_updated_at_ms: 5 }),
          event("i", 3, { type: "CustomStatusUpdated", status: "s" }),
        ],
        workerItems: [work],
        orchestratorItems: [{ TimerFired: { instance: "i", execution_id: 1, id: 4, fire_at_ms: 99 } }],
        metadata: { status: "Running", pinnedDuroxideVersion: { major: 0, minor: 1, patch: 32 } },
        cancelledActivities: [{ instance: "i", executionId: 1, activityId: 7 }],
      }),
    );
    expect(built).toEqual({
      execution_id: 1,
      events: [
        { event_id: 1, event_type: "OrchestrationStarted", event_data: encodeEvent(started("i")) },
        { event_id: 2, event_type: "KeyValueSet", event_data: expect.any(String) },
        { event_id: 3, event_type: "CustomStatusUpdated", event_data: expect.any(String) },
      ],
      status: "Running",
      custom_status_action: "set",
      custom_status: "s",
      kv_ops: [{ op: "set", key: "k", value: "v", updated_at_ms: 5 }],
      worker_items: [
        { work_item: JSON.stringify(work), instance_id: "i", execution_id: 1, activity_id: 2, tag: "gpu" },
      ],
      cancelled_activities: [{ instance_id: "i", execution_id: 1, activity_id: 7 }],
      orchestrator_items: [
        {
          kind: "TimerFired",
          work_item: '{"TimerFired":{"instance":"i","execution_id":1,"id":4,"fire_at_ms":99}}',
          instance_id: "i",
          fire_at_ms: 99,
        },
      ],
      pinned_major: 0,
      pinned_minor: 1,
      pinned_patch: 32,
    });
    // Payload texts travel as JSON strings: the document gives each back exactly.
    const decoded = JSON.parse(encodeAckTurn(built)) as typeof built;
    expect(decoded.events[0]?.event_data).toBe(encodeEvent(started("i")));
  });

  it.each<[string, Partial<AckOrchestrationArgs>, RegExp]>([
    [
      "a text execution id",
      { executionId: "1" as never },
      /^executionId must be a non-negative integer, got "1"$/,
    ],
    ["a fractional execution id", { executionId: 1.5 }, /^executionId must be a non-negative integer/],
    [
      "a numeric status",
      { metadata: { status: 3 as never } },
      /^metadata status must be a string, got number$/,
    ],
    [
      "an output where the name goes",
      { metadata: { orchestrationName: { output: "x" } as never } },
      /^metadata orchestration name must be a string, got object$/,
    ],
    [
      "a negative pinned version",
      { metadata: { pinnedDuroxideVersion: { major: -1, minor: 0, patch: 0 } } },
      /^metadata pinned version major must be a non-negative integer/,
    ],
    [
      "a cancelled activity's ids swapped with its instance",
      { cancelledActivities: [{ instance: 7 as never, executionId: "i" as never, activityId: 1 }] },
      /^cancelled activity instance id must be a string, got number$/,
    ],
    [
      "a cancelled activity id that is not a number",
      { cancelledActivities: [{ instance: "i", executionId: 1, activityId: "7" as never }] },
      /^cancelled activity 1 activityId must be a non-negative integer, got "7"$/,
    ],
    [
      "a NUL in a worker item's tag",
      {
        workerItems: [
          {
            ActivityExecute: {
              instance: "i",
              execution_id: 1,
              id: 2,
              name: "A",
              input: "{}",
              tag: "t\u0000",
            },
          },
        ],
      },
      /^worker item tag contains a NUL/,
    ],
  ])("refuses %s, naming the field", (_label, overrides, message) => {
    let error: unknown;
    try {
      buildAckTurn(turn(overrides));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CodecError);
    expect((error as Error).message).toMatch(message);
  });
});

describe("the ack through the provider", () => {
  let store: TestSchema;
  let provider: PostgresProvider;

  beforeAll(async () => {
    store = await createTestSchema({ prefix: "turn_doc" });
    provider = await PostgresProvider.create({ pool: store.pool, schema: store.schema, longPoll: false });
  });

  afterAll(async () => {
    await provider.close();
    await store.drop();
  });

  async function lock(instance: string): Promise<string> {
    await provider.enqueueForOrchestrator(
      {
        StartOrchestration: {
          instance,
          orchestration: "Orch",
          input: "{}",
          version: "1.0.0",
          parent_instance: null,
          parent_id: null,
          execution_id: 1,
        },
      },
      null,
    );
    const fetched = await provider.fetchOrchestrationItem(30_000, 0, null);
    expect(fetched?.item.instance).toBe(instance);
    return fetched!.lockToken;
  }

  it("refuses a mistyped field permanently, naming it, and the lock still commits a clean turn", async () => {
    const token = await lock("mistyped");
    const error = await provider
      .ackOrchestrationItem(token, 1, [started("mistyped")], [], [], { output: 42 as never }, [])
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as ProviderError).retryable).toBe(false);
    expect((error as ProviderError).message).toMatch(/metadata output must be a string, got number/);
    await provider.ackOrchestrationItem(token, 1, [started("mistyped")], [], [], {}, []);
    expect(await provider.read("mistyped")).toEqual([started("mistyped")]);
  });

  it("stores each event as the codec's exact text (NUL, astral characters, unknown keys, key order)", async () => {
    const token = await lock("exact");
    const delta = [
      started("exact"),
      {
        ...event("exact", 2, { type: "ExternalEvent", name: 'n"\\\u0000😀', data: "é\n\t" }),
        a_field_of_a_newer_engine: { z: 1, a: [2, "x"] },
      } as unknown as Event,
    ];
    await provider.ackOrchestrationItem(token, 1, delta, [], [], {}, []);
    const { rows } = await store.pool.query(
      `SELECT event_data FROM ${quoteSchema(store.schema)}.history WHERE instance_id = 'exact' ORDER BY event_id`,
    );
    expect(rows.map((r) => r.event_data)).toEqual(delta.map(encodeEvent));
    expect(await provider.read("exact")).toEqual(delta);
  });
});
