/**
 * The durable command registry (src/runtime/commands/): each kind owns its event, its replay
 * matching and the description used in nondeterminism errors, its completions, its message
 * conversion and its work items; a leaf's state is an explicit union. Pure: no store involved.
 */
import { describe, expect, it } from "vitest";
import type { Event, EventKind, OrchestrationItem, WorkItem } from "../../src/provider/types.ts";
import {
  COMPLETION_EVENT_TYPES,
  commandFor,
  describeEvent,
  mismatch,
  RECORD_EVENT_TYPES,
  SCHEDULE_EVENT_TYPES,
} from "../../src/runtime/commands/registry.ts";
import { EventLog } from "../../src/runtime/events.ts";
import { convertMessages } from "../../src/runtime/message-conversion.ts";
import { OrchestrationRegistry } from "../../src/runtime/registry.ts";
import type { OrchestrationFunction } from "../../src/runtime/replay-engine.ts";
import { ENGINE_VERSION } from "../../src/runtime/semver.ts";
import { LeafTask, type TaskHost } from "../../src/runtime/tasks.ts";
import { planTurn } from "../../src/runtime/turn.ts";

function event(id: number, kind: EventKind, source: number | null = null): Event {
  return {
    event_id: id,
    source_event_id: source,
    instance_id: "i",
    execution_id: 1,
    timestamp_ms: 1,
    duroxide_version: ENGINE_VERSION,
    ...kind,
  } as Event;
}

const started = event(1, {
  type: "OrchestrationStarted",
  name: "Flow",
  version: "1.0.0",
  input: '"x"',
  parent_instance: null,
  parent_id: null,
} as EventKind);

function plan(handler: OrchestrationFunction, history: Event[], messages: WorkItem[] = []) {
  const registry = new OrchestrationRegistry();
  registry.register("Flow", "1.0.0", handler);
  const item: OrchestrationItem = {
    instance: "i",
    orchestrationName: "Flow",
    executionId: 1,
    version: "1.0.0",
    history,
    messages,
    historyError: null,
    kvSnapshot: new Map(),
  };
  const decision = planTurn(item, { registry, trace: () => {} });
  if (decision.kind !== "ack") throw new Error(`expected an ack, got ${decision.kind}`);
  return decision;
}

describe("the command registry", () => {
  it("knows which events schedule, record and complete a command", () => {
    expect([...SCHEDULE_EVENT_TYPES].sort()).toEqual([
      "ActivityScheduled",
      "ExternalSubscribed",
      "ExternalSubscribedPersistent",
      "OrchestrationChained",
      "SubOrchestrationScheduled",
      "TimerCreated",
    ]);
    expect([...RECORD_EVENT_TYPES].sort()).toEqual([
      "CustomStatusUpdated",
      "KeyValueCleared",
      "KeyValueSet",
      "KeyValuesCleared",
    ]);
    expect([...COMPLETION_EVENT_TYPES].sort()).toEqual([
      "ActivityCompleted",
      "ActivityFailed",
      "SubOrchestrationCompleted",
      "SubOrchestrationFailed",
      "TimerFired",
    ]);
  });

  it("names both sides of a schedule mismatch in the recorded event's shape", () => {
    const scheduled = event(2, { type: "ActivityScheduled", name: "A", input: "1", tag: "gpu" });
    expect(mismatch({ kind: "activity", name: "A", input: "1", tag: "gpu" }, scheduled)).toBeNull();
    expect(mismatch({ kind: "timer", delayMs: 5 }, scheduled)).toBe(
      "schedule mismatch: action=TimerCreated(5ms) vs event=ActivityScheduled(A, input=1, tag=gpu)#2",
    );
    expect(mismatch({ kind: "activity", name: "A", input: "1" }, scheduled)).toMatch(/tag=gpu\)#2$/);
    expect(describeEvent(event(3, { type: "TimerCreated", fire_at_ms: 9 }))).toBe("TimerCreated#3");
  });

  it("matches a system call to its reserved activity name, never to a tagged or session event", () => {
    const action = {
      kind: "systemCall" as const,
      name: "__duroxide_syscall:new_guid",
      input: '""',
      inline: null,
    };
    const plain = event(2, { type: "ActivityScheduled", name: action.name, input: '""' });
    const tagged = event(2, { type: "ActivityScheduled", name: action.name, input: '""', tag: "t" });
    expect(mismatch(action, plain)).toBeNull();
    expect(mismatch(action, tagged)).toContain("schedule mismatch");
    expect(commandFor(action).kind).toBe("systemCall");
  });

  it("compares key and value of a KV write, but not a custom status value", () => {
    const set = event(2, { type: "KeyValueSet", key: "k", value: "v", last_updated_at_ms: 1 });
    const entry = { value: "v", lastUpdatedAtMs: 5 };
    expect(mismatch({ kind: "kvSet", key: "k", value: "v", entry }, set)).toBeNull();
    expect(mismatch({ kind: "kvSet", key: "k", value: "w", entry }, set)).toBe(
      "schedule mismatch: action=KeyValueSet(k=w) vs event=KeyValueSet(k)#2",
    );
    const status = event(2, { type: "CustomStatusUpdated", status: "old" });
    expect(mismatch({ kind: "customStatus", status: "new" }, status)).toBeNull();
  });
});

describe("leaf task state", () => {
  const host: TaskHost = { emit: () => {}, dropped: () => {}, continueAsNew: () => {} };

  it("moves pending → completed once, and keeps its result when cancelled", () => {
    const leaf = new LeafTask({ kind: "dequeue", name: "q" }, (raw) => raw);
    expect(leaf.state).toEqual({ status: "pending", eventId: null });
    leaf.bindTo(4);
    leaf.settle({ ok: true, value: "m1" });
    leaf.settle({ ok: true, value: "m2" }); // a second result is ignored
    expect(leaf.state).toEqual({ status: "completed", eventId: 4, value: "m1", read: false });
    leaf.markRead();
    leaf.cancel();
    expect(leaf.state).toEqual({
      status: "cancelled",
      eventId: 4,
      result: { ok: true, value: "m1" },
      read: true,
    });
    expect(leaf.poll()).toEqual({ ok: true, value: "m1" });
  });

  it("records whether it was dropped before or after its result", () => {
    const pending = new LeafTask({ kind: "wait", name: "e" }, (raw) => raw);
    pending.drop(host);
    expect(pending.dropped).toBe("droppedPending");
    const failed = new LeafTask({ kind: "timer", delayMs: 1 }, () => null);
    const error = new Error("boom");
    failed.settle({ ok: false, error });
    failed.drop(host);
    expect(failed.state).toEqual({ status: "failed", eventId: null, error, read: false });
    expect(failed.dropped).toBe("droppedSettled");
  });

  it("starts a detached start completed, before it is bound", () => {
    const leaf = new LeafTask(
      { kind: "detached", name: "F", instance: "x", input: "null", version: null },
      () => null,
      { ok: true, value: null },
    );
    expect(leaf.state.status).toBe("completed");
    expect(leaf.eventId).toBeNull();
  });
});

describe("message conversion by command", () => {
  const history = [started, event(2, { type: "ActivityScheduled", name: "A", input: "1" })];

  it("aborts on a completion addressed to a schedule of another kind", () => {
    const log = new EventLog("i", 1, 3);
    const result = convertMessages(
      history,
      [{ TimerFired: { instance: "i", execution_id: 1, id: 2, fire_at_ms: 5 } }],
      log,
    );
    expect(log.delta).toEqual([]);
    expect(result.abortError).toEqual({
      Configuration: {
        kind: "Nondeterminism",
        resource: "",
        message: "completion kind mismatch: TimerFired for ActivityScheduled#2",
      },
    });
  });

  it("records a system failure of an activity and aborts the turn with its details", () => {
    const log = new EventLog("i", 1, 3);
    const details = { Infrastructure: { operation: "x", message: "down", retryable: false } };
    const result = convertMessages(
      history,
      [{ ActivityFailed: { instance: "i", execution_id: 1, id: 2, details } }],
      log,
    );
    expect(log.delta.map((e) => [e.type, e.source_event_id])).toEqual([["ActivityFailed", 2]]);
    expect(result.abortError).toEqual(details);
  });
});

describe("replay through the commands", () => {
  it("fails a completion of the wrong kind naming the completion and the schedule", () => {
    const decision = plan(
      function* (ctx) {
        return yield ctx.scheduleActivity("A", 1);
      },
      [
        started,
        event(2, { type: "ActivityScheduled", name: "A", input: "1" }),
        event(3, { type: "TimerFired", fire_at_ms: 5 }, 2),
      ],
    );
    const failed = decision.plan.delta.at(-1);
    expect(failed?.type).toBe("OrchestrationFailed");
    expect(JSON.stringify(failed)).toContain(
      "completion kind mismatch: TimerFired#3 for ActivityScheduled(A, input=1)#2",
    );
  });

  it("records utcNow as a completed system activity in the turn, with no work item", () => {
    const decision = plan(
      function* (ctx) {
        const now = yield ctx.utcNow();
        yield ctx.scheduleTimer(10);
        return now;
      },
      [started],
    );
    expect(decision.plan.delta.map((e) => e.type)).toEqual([
      "ActivityScheduled",
      "ActivityCompleted",
      "TimerCreated",
    ]);
    expect(decision.plan.workerItems).toEqual([]);
    expect(decision.plan.orchestratorItems.map((m) => Object.keys(m)[0])).toEqual(["TimerFired"]);
  });

  it("sends a detached start even from the turn that completes the execution", () => {
    const decision = plan(
      function* (ctx) {
        yield ctx.startOrchestration("Other", "other-1", 7);
        return "done";
      },
      [started],
    );
    expect(decision.outcome).toBe("completed");
    expect(decision.plan.orchestratorItems).toEqual([
      {
        StartOrchestration: {
          instance: "other-1",
          orchestration: "Other",
          input: "7",
          version: null,
          parent_instance: null,
          parent_id: null,
          execution_id: 1,
        },
      },
    ]);
  });
});
