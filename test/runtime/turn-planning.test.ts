/**
 * The turn planner on hand-built fetched items: replay, new work, filtering and cancellation,
 * without a store (planTurn is a pure function of history + batch).
 */
import { describe, expect, it } from "vitest";
import type { Event, OrchestrationItem, WorkItem } from "../../src/provider/types.ts";
import { OrchestrationRegistry } from "../../src/runtime/registry.ts";
import type { OrchestrationFunction } from "../../src/runtime/replay-engine.ts";
import { ENGINE_SEMVER, ENGINE_VERSION } from "../../src/runtime/semver.ts";
import { type AckPlan, MAX_CARRY_FORWARD, planTurn } from "../../src/runtime/turn.ts";

const quiet = { trace: () => {} };

function registry(handlers: Record<string, OrchestrationFunction>): OrchestrationRegistry {
  const r = new OrchestrationRegistry();
  for (const [name, fn] of Object.entries(handlers)) r.register(name, "1.0.0", fn);
  return r;
}

function item(history: Event[], messages: WorkItem[], executionId = 1): OrchestrationItem {
  return {
    instance: "i",
    orchestrationName: "Flow",
    executionId,
    version: "1.0.0",
    history,
    messages,
    historyError: null,
    kvSnapshot: new Map(),
  };
}

const start: WorkItem = {
  StartOrchestration: {
    instance: "i",
    orchestration: "Flow",
    input: '"x"',
    version: null,
    parent_instance: null,
    parent_id: null,
    execution_id: 1,
  },
};

function turn(reg: OrchestrationRegistry, history: Event[], messages: WorkItem[], executionId = 1): AckPlan {
  const decision = planTurn(item(history, messages, executionId), { registry: reg, ...quiet });
  if (decision.kind !== "ack") throw new Error(`expected an ack, got ${decision.kind}`);
  return decision.plan;
}

const done = (id: number, result: string): WorkItem => ({
  ActivityCompleted: { instance: "i", execution_id: 1, id, result },
});

describe("turn planning", () => {
  const reg = registry({
    *Flow(ctx) {
      const a = yield ctx.scheduleActivity("A", 1);
      const b = yield ctx.scheduleActivity("B", a);
      return b;
    },
  });

  it("starts an execution with OrchestrationStarted, the first schedule and its work item", () => {
    const plan = turn(reg, [], [start]);
    expect(plan.delta.map((e) => [e.event_id, e.type])).toEqual([
      [1, "OrchestrationStarted"],
      [2, "ActivityScheduled"],
    ]);
    expect(plan.delta.every((e) => e.duroxide_version === ENGINE_VERSION && e.execution_id === 1)).toBe(true);
    expect(plan.workerItems).toEqual([
      {
        ActivityExecute: {
          instance: "i",
          execution_id: 1,
          id: 2,
          name: "A",
          input: "1",
          orchestration_name: "Flow",
          orchestration_version: "1.0.0",
        },
      },
    ]);
    expect(plan.metadata).toMatchObject({
      orchestrationName: "Flow",
      orchestrationVersion: "1.0.0",
      pinnedDuroxideVersion: ENGINE_SEMVER,
    });
    expect(plan.metadata.status).toBeUndefined();
  });

  it("replays recorded results and continues with the next schedule", () => {
    const first = turn(reg, [], [start]);
    const second = turn(reg, first.delta, [done(2, "10")]);
    expect(second.delta.map((e) => [e.event_id, e.type, e.source_event_id])).toEqual([
      [3, "ActivityCompleted", 2],
      [4, "ActivityScheduled", null],
    ]);
    expect(second.delta[1]).toMatchObject({ name: "B", input: "10" });
  });

  it("drops completions for another execution and duplicates of recorded ones", () => {
    const first = turn(reg, [], [start]);
    const second = turn(reg, first.delta, [done(2, "10")]);
    const history = [...first.delta, ...second.delta];
    const stale: WorkItem = { ActivityCompleted: { instance: "i", execution_id: 7, id: 4, result: "1" } };
    const plan = turn(reg, history, [done(2, "10"), stale]);
    expect(plan.delta).toEqual([]);
    expect(plan.workerItems).toEqual([]);
  });

  it("completes with the output and a Completed status", () => {
    const first = turn(reg, [], [start]);
    const second = turn(reg, first.delta, [done(2, "10")]);
    const third = turn(reg, [...first.delta, ...second.delta], [done(4, '"end"')]);
    expect(third.delta.map((e) => e.type)).toEqual(["ActivityCompleted", "OrchestrationCompleted"]);
    expect(third.metadata).toEqual({ status: "Completed", output: '"end"' });
  });

  it("fails as nondeterministic when the code schedules something else than history", () => {
    const first = turn(reg, [], [start]);
    const changed = registry({
      *Flow(ctx) {
        yield ctx.scheduleTimer(5);
      },
    });
    const plan = turn(changed, first.delta, [done(2, "10")]);
    const failed = plan.delta.at(-1)!;
    expect(failed.type).toBe("OrchestrationFailed");
    expect(plan.metadata.status).toBe("Failed");
    expect(plan.metadata.output).toMatch(
      /^nondeterministic: schedule mismatch: action=TimerCreated.* vs event=ActivityScheduled\(A/,
    );
  });

  it("fails as nondeterministic on a completion for a schedule that does not exist", () => {
    const first = turn(reg, [], [start]);
    const plan = turn(reg, first.delta, [done(9, "1")]);
    expect(plan.metadata.output).toContain("no matching schedule for completion id=9");
  });

  it("cancels a race loser once, not again when the turn is replayed", () => {
    const racer = registry({
      *Flow(ctx) {
        yield ctx.race(ctx.scheduleActivity("Slow"), ctx.scheduleTimer(10));
        yield ctx.waitForEvent("more");
      },
    });
    const first = turn(racer, [], [start]);
    const fired: WorkItem = { TimerFired: { instance: "i", execution_id: 1, id: 3, fire_at_ms: 0 } };
    const second = turn(racer, first.delta, [fired]);
    expect(second.delta.map((e) => e.type)).toEqual([
      "TimerFired",
      "ExternalSubscribed",
      "ActivityCancelRequested",
    ]);
    expect(second.cancelledActivities).toEqual([{ instance: "i", executionId: 1, activityId: 2 }]);
    const raised: WorkItem = { ExternalRaised: { instance: "i", name: "other", data: "1" } };
    const third = turn(racer, [...first.delta, ...second.delta], [raised]);
    expect(third.delta.map((e) => e.type)).toEqual(["ExternalEvent"]);
    expect(third.cancelledActivities).toEqual([]);
  });

  it("turns a cancel request into a Cancelled failure and cancels children and activities", () => {
    const parent = registry({
      *Flow(ctx) {
        yield ctx.all([ctx.scheduleSubOrchestration("Child"), ctx.scheduleActivity("A")]);
      },
    });
    const first = turn(parent, [], [start]);
    expect(first.orchestratorItems[0]).toMatchObject({
      StartOrchestration: { instance: "i::sub::2", parent_instance: "i", parent_id: 2, execution_id: 1 },
    });
    const cancel: WorkItem = { CancelInstance: { instance: "i", reason: "stop" } };
    const plan = turn(parent, first.delta, [cancel]);
    expect(plan.delta.map((e) => e.type)).toEqual([
      "OrchestrationCancelRequested",
      "ActivityCancelRequested",
      "SubOrchestrationCancelRequested",
      "OrchestrationFailed",
    ]);
    expect(plan.orchestratorItems).toEqual([
      { CancelInstance: { instance: "i::sub::2", reason: "parent canceled" } },
    ]);
    expect(plan.metadata).toEqual({ status: "Failed", output: "canceled: stop" });
  });

  it("drops everything sent to a finished instance", () => {
    const first = turn(reg, [], [start]);
    const second = turn(reg, first.delta, [done(2, "10")]);
    const third = turn(reg, [...first.delta, ...second.delta], [done(4, '"end"')]);
    const history = [...first.delta, ...second.delta, ...third.delta];
    const plan = turn(reg, history, [{ CancelInstance: { instance: "i", reason: "late" } }]);
    expect(plan).toMatchObject({ delta: [], workerItems: [], orchestratorItems: [], metadata: {} });
  });

  it("carries unconsumed queue messages (at most MAX_CARRY_FORWARD) and the custom status into the next execution", () => {
    const mailbox = registry({
      *Flow(ctx) {
        ctx.setCustomStatus("busy");
        const first = yield ctx.dequeueEvent("q");
        return yield ctx.continueAsNew(first);
      },
    });
    const messages: WorkItem[] = Array.from({ length: MAX_CARRY_FORWARD + 6 }, (_, i) => ({
      QueueMessage: { instance: "i", name: "q", data: String(i) },
    }));
    const plan = turn(mailbox, [], [start, ...messages]);
    expect(plan.metadata).toMatchObject({ status: "ContinuedAsNew", output: "0" });
    const next = plan.orchestratorItems.find((w) => "ContinueAsNew" in w);
    expect(next).toMatchObject({
      ContinueAsNew: {
        instance: "i",
        orchestration: "Flow",
        input: "0",
        version: null,
        initial_custom_status: "busy",
      },
    });
    const carried = (next as { ContinueAsNew: { carry_forward_events: [string, string][] } }).ContinueAsNew
      .carry_forward_events;
    expect(carried).toHaveLength(MAX_CARRY_FORWARD);
    expect(carried[0]).toEqual(["q", "1"]);

    const newExecution = turn(mailbox, plan.delta, [next!]);
    expect(newExecution.executionId).toBe(2);
    expect(newExecution.delta[0]).toMatchObject({
      event_id: 1,
      execution_id: 2,
      type: "OrchestrationStarted",
      initial_custom_status: "busy",
    });
    expect(newExecution.delta[1]).toMatchObject({ event_id: 2, type: "ExternalEventPersistent", data: "1" });
  });

  it("carries queue messages that arrived in the same batch after the one the code took", () => {
    const mailbox = registry({
      *Flow(ctx) {
        const first = yield ctx.dequeueEvent("q");
        return yield ctx.continueAsNew(first);
      },
    });
    const first = turn(mailbox, [], [start]);
    const messages: WorkItem[] = ["a", "b", "c"].map((data) => ({
      QueueMessage: { instance: "i", name: "q", data },
    }));
    const plan = turn(mailbox, first.delta, messages);
    const next = plan.orchestratorItems.find((w) => "ContinueAsNew" in w);
    expect(next).toMatchObject({
      ContinueAsNew: {
        input: '"a"',
        carry_forward_events: [
          ["q", "b"],
          ["q", "c"],
        ],
      },
    });
  });

  it("asks for a back-off when the orchestration is not registered", () => {
    const decision = planTurn(item([], [start]), { registry: registry({}), ...quiet });
    expect(decision).toEqual({ kind: "unregistered", name: "Flow", version: null });
  });
});
