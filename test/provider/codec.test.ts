import { describe, expect, it } from "vitest";
import {
  CodecError,
  decodeEvent,
  decodeWorkItem,
  encodeEvent,
  encodeWorkItem,
  eventFromJson,
  eventType,
  orchestratorInstanceOf,
  workItemFromJson,
  workItemKind,
} from "../../src/provider/codec.ts";
import type { ErrorDetails, Event, EventKind, WorkItem } from "../../src/provider/types.ts";

const envelope = {
  event_id: 2,
  source_event_id: null,
  instance_id: "order-1",
  execution_id: 1,
  timestamp_ms: 1731300000123,
  duroxide_version: "0.1.26",
};

const appFailure: ErrorDetails = {
  Application: { kind: "ActivityFailed", message: "boom", retryable: false },
};
const allDetails: ErrorDetails[] = [
  appFailure,
  { Application: { kind: { Cancelled: { reason: "user" } }, message: "", retryable: false } },
  { Application: { kind: "Panicked", message: "p", retryable: true } },
  { Infrastructure: { operation: "ack_orchestration_item", message: "Deadlock detected", retryable: true } },
  { Configuration: { kind: "Nondeterminism", resource: "ProcessOrder", message: null } },
  {
    Poison: {
      attempt_count: 4,
      max_attempts: 3,
      message_type: { FailedDeserialization: { instance: "i", execution_id: 1, error: "bad" } },
      message: "poisoned",
    },
  },
  {
    Poison: {
      attempt_count: 4,
      max_attempts: 3,
      message_type: { Activity: { instance: "i", execution_id: 1, activity_name: "A", activity_id: 2 } },
      message: "poisoned",
    },
  },
  {
    Poison: {
      attempt_count: 4,
      max_attempts: 3,
      message_type: { Orchestration: { instance: "i", execution_id: 1 } },
      message: "poisoned",
    },
  },
];

const kinds: EventKind[] = [
  {
    type: "OrchestrationStarted",
    name: "ProcessOrder",
    version: "1.0.0",
    input: "{}",
    parent_instance: "p",
    parent_id: 3,
    carry_forward_events: [["Approve", "{}"]],
    initial_custom_status: "s",
  },
  {
    type: "OrchestrationStarted",
    name: "Ship",
    version: "1.0.0",
    input: "{}",
    parent_instance: "order-1",
    parent_id: 4,
    parent_execution_id: 2,
  },
  {
    type: "OrchestrationStarted",
    name: "N",
    version: "1.0.0",
    input: "{}",
    parent_instance: null,
    parent_id: null,
  },
  { type: "OrchestrationCompleted", output: "done" },
  { type: "OrchestrationFailed", details: appFailure },
  { type: "ActivityScheduled", name: "Charge", input: '"x"', tag: "gpu", session_id: "s1" },
  { type: "ActivityScheduled", name: "Charge", input: '"x"' },
  { type: "ActivityCompleted", result: "r" },
  { type: "ActivityFailed", details: appFailure },
  { type: "ActivityCancelRequested", reason: "dropped" },
  { type: "TimerCreated", fire_at_ms: 1731300000000 },
  { type: "TimerFired", fire_at_ms: 1731300000000 },
  { type: "ExternalSubscribed", name: "Approve" },
  { type: "ExternalEvent", name: "Approve", data: "{}" },
  { type: "OrchestrationChained", name: "Child", instance: "c", input: "{}" },
  { type: "SubOrchestrationScheduled", name: "Child", instance: "c", input: "{}" },
  { type: "SubOrchestrationCompleted", result: "r" },
  { type: "SubOrchestrationFailed", details: appFailure },
  { type: "SubOrchestrationCancelRequested", reason: "r" },
  { type: "OrchestrationContinuedAsNew", input: "{}" },
  { type: "OrchestrationCancelRequested", reason: "r" },
  { type: "ExternalSubscribedCancelled", reason: "r" },
  { type: "ExternalSubscribedPersistent", name: "q" },
  { type: "ExternalEventPersistent", name: "q", data: "d" },
  { type: "ExternalSubscribedPersistentCancelled", reason: "r" },
  { type: "CustomStatusUpdated", status: "busy" },
  { type: "CustomStatusUpdated", status: null },
  { type: "KeyValueSet", key: "k", value: "v", last_updated_at_ms: 5 },
  { type: "KeyValueCleared", key: "k" },
  { type: "KeyValuesCleared" },
  ...allDetails.map((details): EventKind => ({ type: "OrchestrationFailed", details })),
];

const workItems: WorkItem[] = [
  {
    StartOrchestration: {
      instance: "order-1",
      orchestration: "ProcessOrder",
      input: '{"n":1}',
      version: "1.0.0",
      parent_instance: null,
      parent_id: null,
      execution_id: 1,
    },
  },
  {
    StartOrchestration: {
      instance: "c",
      orchestration: "Child",
      input: "{}",
      version: null,
      parent_instance: "p",
      parent_id: 4,
      execution_id: 1,
    },
  },
  {
    StartOrchestration: {
      instance: "order-1::sub::4",
      orchestration: "Ship",
      input: "{}",
      version: null,
      parent_instance: "order-1",
      parent_id: 4,
      parent_execution_id: 3,
      execution_id: 1,
    },
  },
  {
    ActivityExecute: {
      instance: "order-1",
      execution_id: 1,
      id: 2,
      name: "Charge",
      input: '"x"',
      tag: "gpu",
    },
  },
  {
    ActivityExecute: {
      instance: "order-1",
      execution_id: 1,
      id: 2,
      name: "Charge",
      input: '"x"',
      session_id: "s",
    },
  },
  { ActivityCompleted: { instance: "order-1", execution_id: 1, id: 2, result: "ok" } },
  { ActivityFailed: { instance: "order-1", execution_id: 1, id: 2, details: appFailure } },
  { TimerFired: { instance: "order-1", execution_id: 1, id: 3, fire_at_ms: 1731300000000 } },
  { ExternalRaised: { instance: "order-1", name: "Approve", data: "{}" } },
  { SubOrchCompleted: { parent_instance: "order-1", parent_execution_id: 1, parent_id: 4, result: '"ok"' } },
  {
    SubOrchFailed: { parent_instance: "order-1", parent_execution_id: 1, parent_id: 4, details: appFailure },
  },
  { CancelInstance: { instance: "order-1", reason: "user" } },
  {
    ContinueAsNew: {
      instance: "order-1",
      orchestration: "ProcessOrder",
      input: "{}",
      version: "1.0.0",
      carry_forward_events: [["Approve", "{}"]],
      initial_custom_status: "s",
    },
  },
  {
    ContinueAsNew: {
      instance: "order-1::sub::4",
      orchestration: "Ship",
      input: "{}",
      version: null,
      parent_instance: "order-1",
      parent_id: 4,
      parent_execution_id: 1,
      carry_forward_events: [],
    },
  },
  { QueueMessage: { instance: "order-1", name: "q", data: "d" } },
];

describe("event codec", () => {
  it.each(kinds.map((kind) => [kind.type, kind] as const))("round-trips %s", (_type, kind) => {
    const event = { ...envelope, ...kind } as Event;
    expect(decodeEvent(encodeEvent(event))).toEqual(event);
  });

  it("decodes an event with a source_event_id", () => {
    const event = { ...envelope, source_event_id: 2, type: "ActivityCompleted", result: "r" } as Event;
    expect(decodeEvent(encodeEvent(event))).toEqual(event);
  });

  it("rejects valid JSON that is not an event", () => {
    expect(() => decodeEvent('{"garbage":true}')).toThrow(CodecError);
  });

  it("rejects text that is not JSON", () => {
    expect(() => decodeEvent("not json{")).toThrow(CodecError);
  });

  it("rejects JSON that is not an object", () => {
    for (const text of ["null", "[]", "42", '"x"']) expect(() => decodeEvent(text)).toThrow(CodecError);
  });

  it("rejects an unknown event type", () => {
    expect(() => decodeEvent(JSON.stringify({ ...envelope, type: "FromTheFuture", x: 1 }))).toThrow(
      /unknown event type/,
    );
  });

  it("rejects an event without event_id", () => {
    const { event_id: _, ...rest } = envelope;
    expect(() =>
      decodeEvent(JSON.stringify({ ...rest, type: "OrchestrationCompleted", output: "" })),
    ).toThrow(/event_id/);
  });

  it("rejects a string where the envelope needs a number", () => {
    const text = JSON.stringify({
      ...envelope,
      execution_id: "1",
      type: "OrchestrationCompleted",
      output: "",
    });
    expect(() => decodeEvent(text)).toThrow(/execution_id/);
  });

  it("rejects a missing required variant field", () => {
    expect(() => decodeEvent(JSON.stringify({ ...envelope, type: "ActivityScheduled", name: "A" }))).toThrow(
      /input/,
    );
  });

  it("rejects malformed error details", () => {
    const text = JSON.stringify({ ...envelope, type: "ActivityFailed", details: { Weird: {} } });
    expect(() => decodeEvent(text)).toThrow(CodecError);
  });

  it("reads a missing source_event_id as null and keeps unknown keys (a newer engine's fields)", () => {
    const { source_event_id: _, ...rest } = envelope;
    const decoded = decodeEvent(
      JSON.stringify({ ...rest, type: "ExternalEvent", name: "n", data: "d", extra: [1] }),
    );
    expect(decoded).toEqual({ ...envelope, type: "ExternalEvent", name: "n", data: "d", extra: [1] });
  });

  it("defaults a KeyValueSet without last_updated_at_ms to 0", () => {
    const decoded = decodeEvent(JSON.stringify({ ...envelope, type: "KeyValueSet", key: "k", value: "v" }));
    expect(decoded).toMatchObject({ last_updated_at_ms: 0 });
  });

  it("reads a missing parent_instance / parent_id of OrchestrationStarted as null", () => {
    const decoded = decodeEvent(
      JSON.stringify({ ...envelope, type: "OrchestrationStarted", name: "N", version: "1", input: "{}" }),
    );
    expect(decoded).toMatchObject({ parent_instance: null, parent_id: null });
    expect(decoded).not.toHaveProperty("carry_forward_events");
  });

  it("names an event by its wire type", () => {
    expect(eventType({ ...envelope, type: "TimerFired", fire_at_ms: 1 })).toBe("TimerFired");
  });
});

describe("work item codec", () => {
  it.each(workItems.map((item) => [workItemKind(item), item] as const))("round-trips %s", (_kind, item) => {
    expect(decodeWorkItem(encodeWorkItem(item))).toEqual(item);
  });

  it("rejects an unknown variant", () => {
    expect(() => decodeWorkItem('{"Bogus":{}}')).toThrow(/unknown variant/);
  });

  it("rejects an object with two variant keys", () => {
    const text = JSON.stringify({
      CancelInstance: { instance: "i", reason: "r" },
      QueueMessage: { instance: "i", name: "n", data: "d" },
    });
    expect(() => decodeWorkItem(text)).toThrow(CodecError);
  });

  it("rejects valid JSON that is not a work item", () => {
    expect(() => decodeWorkItem('{"garbage":true}')).toThrow(CodecError);
    expect(() => decodeWorkItem("[1]")).toThrow(CodecError);
  });

  it("rejects a variant with a missing field", () => {
    expect(() => decodeWorkItem('{"TimerFired":{"instance":"i","execution_id":1,"id":3}}')).toThrow(
      /fire_at_ms/,
    );
  });

  it("defaults missing carry_forward_events of ContinueAsNew to []", () => {
    const decoded = decodeWorkItem(
      '{"ContinueAsNew":{"instance":"i","orchestration":"O","input":"{}","version":null}}',
    );
    expect(decoded).toEqual({
      ContinueAsNew: {
        instance: "i",
        orchestration: "O",
        input: "{}",
        version: null,
        carry_forward_events: [],
      },
    });
  });

  it("leaves an absent session_id and tag of ActivityExecute out", () => {
    const decoded = decodeWorkItem(
      '{"ActivityExecute":{"instance":"i","execution_id":1,"id":2,"name":"A","input":"{}","tag":null}}',
    );
    expect(decoded).toEqual({
      ActivityExecute: { instance: "i", execution_id: 1, id: 2, name: "A", input: "{}" },
    });
  });

  it("routes sub-orchestration completions to the parent and everything else to its instance", () => {
    const routes = workItems.map((item) => [workItemKind(item), orchestratorInstanceOf(item)]);
    expect(routes).toContainEqual(["SubOrchCompleted", "order-1"]);
    expect(routes).toContainEqual(["SubOrchFailed", "order-1"]);
    expect(orchestratorInstanceOf(workItems[1] as WorkItem)).toBe("c");
  });

  it("names a work item by its variant", () => {
    expect(workItems.map(workItemKind)).toContain("QueueMessage");
    expect(() => workItemKind({} as WorkItem)).toThrow(CodecError);
  });
});

/** duroxide ≥ 0.1.31: stored text comes back exactly; the 0.1.30 fields are kept (docs/store-contract.md §2). */
describe("exact round trip and the 0.1.30 parent fields", () => {
  // Text exactly as duroxide 0.1.32 writes it (serde field order).
  const duroxideEvents = [
    '{"event_id":1,"source_event_id":null,"instance_id":"order-1::sub::4","execution_id":1,"timestamp_ms":1731300000200,"duroxide_version":"0.1.32","type":"OrchestrationStarted","name":"Ship","version":"1.0.0","input":"{}","parent_instance":"order-1","parent_id":4,"parent_execution_id":1}',
    '{"event_id":1,"source_event_id":null,"instance_id":"order-1","execution_id":1,"timestamp_ms":1731300000200,"duroxide_version":"0.1.30","type":"OrchestrationStarted","name":"P","version":"1.0.0","input":"{}","parent_instance":null,"parent_id":null}',
    '{"event_id":7,"source_event_id":5,"instance_id":"order-1","execution_id":3,"timestamp_ms":1731300000123,"duroxide_version":"0.1.31","type":"ActivityCompleted","result":"\\"ok\\""}',
    '{"event_id":9,"source_event_id":2,"instance_id":"q","execution_id":1,"timestamp_ms":1,"duroxide_version":"0.1.32","type":"ExternalSubscribedPersistentCancelled","reason":"dropped_future"}',
  ];
  const duroxideItems = [
    '{"StartOrchestration":{"instance":"order-1::sub::4","orchestration":"Ship","input":"{}","version":null,"parent_instance":"order-1","parent_id":4,"parent_execution_id":1,"execution_id":1}}',
    '{"StartOrchestration":{"instance":"order-1","orchestration":"P","input":"{}","version":"1.0.0","parent_instance":null,"parent_id":null,"execution_id":1}}',
    '{"ContinueAsNew":{"instance":"order-1::sub::4","orchestration":"Ship","input":"{}","version":null,"parent_instance":"order-1","parent_id":4,"parent_execution_id":1,"carry_forward_events":[]}}',
    '{"ContinueAsNew":{"instance":"order-1","orchestration":"P","input":"{}","version":"1.0.0","carry_forward_events":[["Approve","{}"]]}}',
  ];

  it.each(duroxideEvents)("re-stringifies a decoded event to the stored text: %s", (text) => {
    expect(JSON.stringify(decodeEvent(text))).toBe(text);
  });

  it.each(duroxideItems)("re-stringifies a decoded work item to the stored text: %s", (text) => {
    expect(JSON.stringify(decodeWorkItem(text))).toBe(text);
  });

  it("keeps parent_execution_id of OrchestrationStarted, StartOrchestration and ContinueAsNew", () => {
    expect(decodeEvent(duroxideEvents[0] as string)).toMatchObject({ parent_execution_id: 1 });
    expect(decodeWorkItem(duroxideItems[0] as string)).toMatchObject({
      StartOrchestration: { parent_execution_id: 1 },
    });
    expect(decodeWorkItem(duroxideItems[2] as string)).toEqual({
      ContinueAsNew: {
        instance: "order-1::sub::4",
        orchestration: "Ship",
        input: "{}",
        version: null,
        parent_instance: "order-1",
        parent_id: 4,
        parent_execution_id: 1,
        carry_forward_events: [],
      },
    });
  });

  it("omits the parent fields when absent (serde skip_serializing_if), on encode and decode", () => {
    const started = decodeEvent(duroxideEvents[1] as string);
    expect(started).not.toHaveProperty("parent_execution_id");
    const start = decodeWorkItem(duroxideItems[1] as string);
    expect(start).toMatchObject({ StartOrchestration: { parent_instance: null, parent_id: null } });
    expect(encodeWorkItem(start)).not.toContain("parent_execution_id");
    const can = decodeWorkItem(duroxideItems[3] as string);
    for (const key of ["parent_instance", "parent_id", "parent_execution_id"]) {
      expect((can as { ContinueAsNew: object }).ContinueAsNew).not.toHaveProperty(key);
      expect(encodeWorkItem(can)).not.toContain(key);
    }
  });

  it("drops a parent_execution_id written as null (serde reads it as absent)", () => {
    const text = JSON.stringify({
      ...envelope,
      type: "OrchestrationStarted",
      name: "N",
      version: "1",
      input: "{}",
      parent_instance: null,
      parent_id: null,
      parent_execution_id: null,
    });
    expect(decodeEvent(text)).not.toHaveProperty("parent_execution_id");
  });

  it("rejects a parent_execution_id that is not a non-negative integer", () => {
    const started = {
      ...envelope,
      type: "OrchestrationStarted",
      name: "N",
      version: "1",
      input: "{}",
      parent_instance: "p",
      parent_id: 2,
    };
    expect(() => decodeEvent(JSON.stringify({ ...started, parent_execution_id: "1" }))).toThrow(
      /parent_execution_id/,
    );
    expect(() =>
      decodeWorkItem(
        '{"ContinueAsNew":{"instance":"i","orchestration":"O","input":"{}","version":null,"parent_id":-1,"carry_forward_events":[]}}',
      ),
    ).toThrow(/parent_id/);
  });

  it("keeps duroxide_version and source_event_id exactly as written (no restamping)", () => {
    const decoded = decodeEvent(duroxideEvents[2] as string);
    expect(decoded.duroxide_version).toBe("0.1.31");
    expect(decoded.source_event_id).toBe(5);
    const odd = JSON.stringify({
      ...envelope,
      duroxide_version: "garbage",
      type: "TimerFired",
      fire_at_ms: 1,
    });
    expect(decodeEvent(odd).duroxide_version).toBe("garbage");
  });

  it("keeps unknown keys of known work-item variants and their order", () => {
    const text = '{"QueueMessage":{"data":"d","instance":"i","name":"q","from_the_future":{"x":[1,2]}}}';
    expect(JSON.stringify(decodeWorkItem(text))).toBe(text);
  });

  it("validates on encode paths without changing the caller's object", () => {
    const item: WorkItem = {
      ContinueAsNew: {
        instance: "i",
        orchestration: "O",
        input: "{}",
        version: null,
        carry_forward_events: [],
      },
    };
    const before = JSON.stringify(item);
    expect(workItemFromJson(item)).toBe(item);
    expect(JSON.stringify(item)).toBe(before);
    const event = {
      ...envelope,
      type: "OrchestrationStarted",
      name: "N",
      version: "1",
      input: "{}",
      parent_instance: null,
      parent_id: null,
    } as Event;
    expect(eventFromJson(event)).toBe(event);
  });
});
