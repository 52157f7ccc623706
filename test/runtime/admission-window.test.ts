/**
 * duroxide ≥ 0.1.31 dispatcher rules (docs/replay-rules.md §8) on hand-built items, plus the counted
 * deferral against the store: the continue-as-new admission window, the successor's start winning
 * over duplicate starts, collision notices to parents, and the parent link on ContinueAsNew.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Event, EventKind, OrchestrationItem, WorkItem } from "../../src/provider/types.ts";
import { OrchestrationRegistry } from "../../src/runtime/registry.ts";
import type { OrchestrationFunction } from "../../src/runtime/replay-engine.ts";
import { ENGINE_VERSION } from "../../src/runtime/semver.ts";
import { type AckPlan, failTurn, planTurn } from "../../src/runtime/turn.ts";
import { createHarness, eventually, type Harness } from "./harness.ts";

const quiet = { trace: () => {} };

function registry(handlers: Record<string, OrchestrationFunction>): OrchestrationRegistry {
  const r = new OrchestrationRegistry();
  for (const [name, fn] of Object.entries(handlers)) r.register(name, "1.0.0", fn);
  return r;
}

const reg = registry({
  *Flow(ctx) {
    return yield ctx.dequeueEvent("q");
  },
  *Looper(ctx, n) {
    return yield ctx.continueAsNew((n as number) + 1);
  },
});

function ev(id: number, kind: EventKind, stamp = ENGINE_VERSION): Event {
  return {
    event_id: id,
    source_event_id: null,
    instance_id: "i",
    execution_id: 1,
    timestamp_ms: 1,
    duroxide_version: stamp,
    ...kind,
  } as Event;
}

const started = (link: Partial<EventKind> = {}, stamp = ENGINE_VERSION): Event =>
  ev(
    1,
    {
      type: "OrchestrationStarted",
      name: "Flow",
      version: "1.0.0",
      input: "0",
      parent_instance: null,
      parent_id: null,
      ...link,
    } as EventKind,
    stamp,
  );

function item(history: Event[], messages: WorkItem[]): OrchestrationItem {
  return {
    instance: "i",
    orchestrationName: "Flow",
    executionId: 1,
    version: "1.0.0",
    history,
    messages,
    historyError: null,
    kvSnapshot: new Map(),
  };
}

function ack(history: Event[], messages: WorkItem[], r = reg): AckPlan {
  const decision = planTurn(item(history, messages), { registry: r, ...quiet });
  if (decision.kind !== "ack") throw new Error(`expected an ack, got ${decision.kind}`);
  return decision.plan;
}

const queued: WorkItem = { QueueMessage: { instance: "i", name: "q", data: "late" } };
const can: WorkItem = {
  ContinueAsNew: {
    instance: "i",
    orchestration: "Flow",
    input: "1",
    version: "1.0.0",
    carry_forward_events: [],
  },
};
const duplicate = (
  link: { parent_instance: string; parent_id: number; parent_execution_id?: number } | null,
): WorkItem => ({
  StartOrchestration: {
    instance: "i",
    orchestration: "Other",
    input: "9",
    version: null,
    parent_instance: link?.parent_instance ?? null,
    parent_id: link?.parent_id ?? null,
    ...(link?.parent_execution_id !== undefined ? { parent_execution_id: link.parent_execution_id } : {}),
    execution_id: 1,
  },
});
const continuedAsNew = ev(2, { type: "OrchestrationContinuedAsNew", input: "1" });

describe("continue-as-new admission window", () => {
  it("defers inputs of an execution that continued as new while its successor's start is not visible", () => {
    const decision = planTurn(item([started(), continuedAsNew], [queued]), { registry: reg, ...quiet });
    expect(decision.kind).toBe("deferred");
  });

  it("defers for legacy-stamped executions too (a dispatcher rule, not a replay rule)", () => {
    const history = [
      started({}, "0.1.26"),
      ev(2, { type: "OrchestrationContinuedAsNew", input: "1" }, "0.1.26"),
    ];
    expect(planTurn(item(history, [queued]), { registry: reg, ...quiet }).kind).toBe("deferred");
  });

  it("drops inputs once a failure follows the continue-as-new (a poisoned successor start)", () => {
    const failed = ev(3, {
      type: "OrchestrationFailed",
      details: { Application: { kind: "OrchestrationFailed", message: "x", retryable: false } },
    });
    const plan = ack([started(), continuedAsNew, failed], [queued]);
    expect(plan.delta).toEqual([]);
  });

  it("records a poison failure on the ended execution, after its OrchestrationContinuedAsNew", () => {
    const details = {
      Poison: {
        attempt_count: 11,
        max_attempts: 10,
        message_type: { Orchestration: { instance: "i", execution_id: 1 } },
        message: "[]",
      },
    };
    const plan = failTurn(item([started(), continuedAsNew], [queued]), reg, details);
    expect(plan.executionId).toBe(1);
    expect(plan.delta.map((e) => [e.event_id, e.type, e.execution_id])).toEqual([
      [3, "OrchestrationFailed", 1],
    ]);
    expect(plan.metadata.status).toBe("Failed");
  });

  it("opens the successor from ContinueAsNew even when a duplicate start precedes it in the batch", () => {
    const plan = ack([started(), continuedAsNew], [duplicate(null), can, queued]);
    expect(plan.executionId).toBe(2);
    expect(plan.delta[0]).toMatchObject({
      type: "OrchestrationStarted",
      name: "Flow",
      input: "1",
      execution_id: 2,
    });
    expect(plan.orchestratorItems).toEqual([]); // no parent link: dropped silently
  });
});

describe("duplicate starts", () => {
  const link = { parent_instance: "p", parent_id: 4, parent_execution_id: 2 };
  const running = [started(link)];
  const notices = (plan: AckPlan) => plan.orchestratorItems.filter((w) => "SubOrchFailed" in w);

  it("ignores a re-send of a running instance's own start (same parent, event and parent execution)", () => {
    expect(notices(ack(running, [duplicate(link), queued]))).toEqual([]);
  });

  it("tells another caller of a running instance that it already exists", () => {
    const others: { parent_instance: string; parent_id: number; parent_execution_id?: number }[] = [
      { ...link, parent_id: 5 },
      { ...link, parent_execution_id: 3 },
      { parent_instance: "p", parent_id: 4 }, // unknown parent execution
      { parent_instance: "q", parent_id: 4, parent_execution_id: 2 },
    ];
    for (const other of others) {
      const sent = notices(ack(running, [duplicate(other), queued]));
      expect(sent, JSON.stringify(other)).toHaveLength(1);
      const notice = sent[0] as Extract<WorkItem, { SubOrchFailed: unknown }>;
      expect(notice.SubOrchFailed).toMatchObject({
        parent_instance: other.parent_instance,
        parent_id: other.parent_id,
        parent_execution_id: other.parent_execution_id ?? 1,
      });
      expect(JSON.stringify(notice)).toContain("already exists");
    }
  });

  it("never lets a duplicate change the running execution's handler or input", () => {
    const plan = ack(running, [duplicate(null), queued]);
    expect(plan.delta.some((e) => e.type === "OrchestrationStarted")).toBe(false);
    expect(plan.metadata).toMatchObject({ status: "Completed", output: '"late"' });
  });

  it("for a finished instance, ignores its own parent's redelivery and notifies anyone else", () => {
    const done = [started(link), ev(2, { type: "OrchestrationCompleted", output: "1" })];
    expect(notices(ack(done, [duplicate({ parent_instance: "p", parent_id: 4 })]))).toEqual([]);
    const plan = ack(done, [duplicate({ parent_instance: "x", parent_id: 7, parent_execution_id: 1 })]);
    expect(plan.delta).toEqual([]);
    expect(notices(plan)).toHaveLength(1);
  });
});

describe("parent link over continue-as-new", () => {
  it("copies the execution's parent link onto its ContinueAsNew item", () => {
    const history = [
      ev(1, {
        type: "OrchestrationStarted",
        name: "Looper",
        version: "1.0.0",
        input: "0",
        parent_instance: "p",
        parent_id: 3,
        parent_execution_id: 2,
      } as EventKind),
    ];
    const plan = ack(history, [queued]);
    expect(plan.orchestratorItems).toEqual([
      {
        ContinueAsNew: expect.objectContaining({
          parent_instance: "p",
          parent_id: 3,
          parent_execution_id: 2,
        }),
      },
    ]);
  });
});

describe("replay policy from the stamp", () => {
  it("replays an execution with an unreadable stamp under the legacy rules and says so on every turn", () => {
    const warnings: string[] = [];
    const trace = (_i: string, level: string, message: string) => {
      if (level === "warn") warnings.push(message);
    };
    for (let turn = 0; turn < 2; turn++) {
      planTurn(item([started({}, "garbage")], [queued]), { registry: reg, trace });
    }
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain("'garbage'");
    expect(warnings[0]).toContain("legacy");
  });

  it("stamps a new execution, and a continue-as-new successor, with this engine's version", () => {
    const plan = ack(
      [started({}, "0.1.26"), ev(2, { type: "OrchestrationContinuedAsNew", input: "1" }, "0.1.26")],
      [can],
    );
    expect(plan.delta[0]).toMatchObject({ type: "OrchestrationStarted", duroxide_version: ENGINE_VERSION });
    expect(ENGINE_VERSION).toBe("0.1.32");
  });
});

describe("the deferral against the store", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness("rt_admit");
  });
  afterAll(async () => {
    await h.close();
  });

  it("counts attempts, and a successor start that never appears ends in poison on the ended execution", async () => {
    const instance = "never-continued";
    await h.provider.enqueueForOrchestrator(
      {
        StartOrchestration: {
          instance,
          orchestration: "Flow",
          input: "0",
          version: "1.0.0",
          parent_instance: null,
          parent_id: null,
          execution_id: 1,
        },
      },
      null,
    );
    const fetched = (await h.provider.fetchOrchestrationItem(30_000, 0, null))!;
    const history = [started(), continuedAsNew].map((e) => ({ ...e, instance_id: instance }));
    await h.provider.ackOrchestrationItem(
      fetched.lockToken,
      1,
      history,
      [],
      [{ QueueMessage: { instance, name: "q", data: "waiting" } }],
      { status: "ContinuedAsNew", orchestrationName: "Flow", orchestrationVersion: "1.0.0" },
      [],
    );
    const rt = h.runtime({ maxAttempts: 3, unregisteredBackoffMs: 20, unregisteredBackoffMaxMs: 100 });
    rt.registerOrchestration("Flow", function* (ctx) {
      return yield ctx.dequeueEvent("q");
    });
    await rt.start();
    const events = (await eventually(async () => {
      const e = await h.provider.readWithExecution(instance, 1);
      return e.length === 3 ? e : null;
    }, 10_000)) as Event[];
    expect(events.map((e) => e.type)).toEqual([
      "OrchestrationStarted",
      "OrchestrationContinuedAsNew",
      "OrchestrationFailed",
    ]);
    const failure = events[2]!;
    expect(failure.type === "OrchestrationFailed" && "Poison" in failure.details).toBe(true);
    if (failure.type === "OrchestrationFailed" && "Poison" in failure.details) {
      expect(failure.details.Poison.attempt_count).toBe(4);
    }
  });
});
