/**
 * duroxide 0.1.32's runtime-level `race_replay` validation tests (eight of the category's nine;
 * the ninth is provider-only, in test/validation), under duroxide's names, against our runtime on
 * Postgres.
 *
 * Each test seeds state through the provider as duroxide's test does: enqueue a start item, fetch
 * it, and ack it with a hand-built history and orchestrator items. Adaptations to the TypeScript API,
 * none of which changes what is checked:
 * - inputs our code emits are JSON text, so seeded schedule events carry JSON-encoded inputs;
 * - shapes of one test whose instance ids differ share one schema (upstream: a provider each);
 * - a dequeue raced "by reference" (Rust `&mut held`) is `held.keepAlive()`;
 * - our tasks emit their schedule when first yielded, not when created (see the legacy test).
 */
import { afterEach, describe, expect, it } from "vitest";
import type {
  Event,
  EventKind,
  ExecutionMetadata,
  FetchedOrchestrationItem,
  Provider,
  WorkItem,
} from "../../src/provider/types.ts";
import { EventLog } from "../../src/runtime/events.ts";
import { fromJson } from "../../src/runtime/json.ts";
import type { OrchestrationContext } from "../../src/runtime/orchestration-context.ts";
import { OrchestrationRegistry } from "../../src/runtime/registry.ts";
import { type OrchestrationFunction, ReplayEngine } from "../../src/runtime/replay-engine.ts";
import { ENGINE_VERSION, replayPolicyFor } from "../../src/runtime/semver.ts";
import { planTurn } from "../../src/runtime/turn.ts";
import { createHarness, eventually, type Harness, sleep } from "./harness.ts";

const LOCK_MS = 30_000;
const quiet = { trace: () => {} };

let harnesses: Harness[] = [];
afterEach(async () => {
  await Promise.all(harnesses.map((h) => h.close()));
  harnesses = [];
});

async function harness(): Promise<Harness> {
  const h = await createHarness("race");
  harnesses.push(h);
  return h;
}

/** An event of execution 1 (or `executionId`), stamped with our version unless `stamp` is given. */
function event(
  instance: string,
  id: number,
  kind: EventKind,
  opts: { source?: number; stamp?: string; executionId?: number } = {},
): Event {
  return {
    event_id: id,
    source_event_id: opts.source ?? null,
    instance_id: instance,
    execution_id: opts.executionId ?? 1,
    timestamp_ms: Date.now(),
    duroxide_version: opts.stamp ?? ENGINE_VERSION,
    ...kind,
  } as Event;
}

function started(name: string, input: string, extra: Partial<EventKind> = {}): EventKind {
  return {
    type: "OrchestrationStarted",
    name,
    version: "1.0.0",
    input,
    parent_instance: null,
    parent_id: null,
    ...extra,
  } as EventKind;
}

/**
 * seed(instance, history, items, metadata): enqueue the standard start item, fetch it (30 s lock,
 * no wait) and ack it as execution 1 with `history`, `items` (visible at once) and `metadata`.
 * Other instances' batches met on the way are held until the ack, then handed back uncounted.
 */
async function seed(
  provider: Provider,
  instance: string,
  history: Event[],
  items: WorkItem[],
  metadata: ExecutionMetadata,
): Promise<void> {
  await provider.enqueueForOrchestrator(
    {
      StartOrchestration: {
        instance,
        orchestration: "TestOrch",
        input: "{}",
        version: "1.0.0",
        parent_instance: null,
        parent_id: null,
        execution_id: 1,
      },
    },
    null,
  );
  const held: FetchedOrchestrationItem[] = [];
  try {
    for (;;) {
      const fetched = await provider.fetchOrchestrationItem(LOCK_MS, 0, null);
      if (!fetched) throw new Error(`seed start of ${instance} is not visible`);
      if (fetched.item.instance !== instance) {
        held.push(fetched);
        continue;
      }
      await provider.ackOrchestrationItem(fetched.lockToken, 1, history, [], items, metadata, []);
      return;
    }
  } finally {
    for (const other of held) await provider.abandonOrchestrationItem(other.lockToken, null, true);
  }
}

const queueMessage = (instance: string, data: string): WorkItem => ({
  QueueMessage: { instance, name: "q", data },
});

describe("race_replay (duroxide 0.1.32, runtime-level)", () => {
  it("test_duplicate_start_preserves_pinned_handler", async () => {
    const h = await harness();
    const names = ["Original", "WrongHandler"];
    for (const duplicate of names) {
      const instance = `provider-pinned-handler-${duplicate}`;
      await seed(
        h.provider,
        instance,
        [
          event(instance, 1, started("Original", "original-input")),
          event(instance, 2, { type: "ActivityScheduled", name: "tick", input: JSON.stringify("v1") }),
        ],
        [
          {
            StartOrchestration: {
              instance,
              orchestration: duplicate,
              input: "wrong-input",
              version: null,
              parent_instance: null,
              parent_id: null,
              execution_id: 1,
            },
          },
          { ActivityCompleted: { instance, execution_id: 1, id: 2, result: "ok" } },
        ],
        { status: "Running", orchestrationName: "Original", orchestrationVersion: "1.0.0" },
      );
    }
    const rt = h.runtime({ dispatcherMinPollIntervalMs: 10 });
    rt.registerOrchestrationVersioned("Original", "1.0.0", function* (ctx, input: string) {
      yield ctx.scheduleActivity("tick", "v1");
      return `v1:${input}`;
    });
    rt.registerOrchestrationVersioned("Original", "2.0.0", function* (ctx) {
      yield ctx.scheduleActivity("tick", "v2");
      return "v2";
    });
    rt.registerOrchestration("WrongHandler", function* (ctx) {
      yield ctx.scheduleActivity("tick", "wrong");
      return "wrong";
    });
    await rt.start();
    for (const duplicate of names) {
      const status = await h.client.waitForOrchestration(`provider-pinned-handler-${duplicate}`, 10_000);
      expect(status).toMatchObject({ status: "Completed", output: "v1:original-input" });
    }
    await rt.shutdown();
  });

  it("test_continue_as_new_unregistered_backoff", async () => {
    const h = await harness();
    const instance = "provider-can-unregistered-backoff";
    await seed(
      h.provider,
      instance,
      [
        event(instance, 1, started("RollingSuccessor", "old")),
        event(instance, 2, { type: "OrchestrationContinuedAsNew", input: "next" }),
      ],
      [
        {
          ContinueAsNew: {
            instance,
            orchestration: "RollingSuccessor",
            input: "next",
            version: "1.0.0",
            carry_forward_events: [["q", "carried"]],
          },
        },
      ],
      { status: "ContinuedAsNew" },
    );
    // An "old" node without the handler: it must hide the successor's start behind its backoff.
    const old = h.runtime({
      orchestrationConcurrency: 1,
      dispatcherMinPollIntervalMs: 10,
      unregisteredBackoffMs: 2000,
      unregisteredBackoffMaxMs: 2000,
    });
    await old.start();
    const deadline = Date.now() + 10_000;
    let hidden = false;
    while (Date.now() < deadline) {
      await sleep(20);
      const fetched = await h.provider.fetchOrchestrationItem(LOCK_MS, 0, null);
      if (!fetched) {
        hidden = true;
        break;
      }
      expect(fetched.item.messages.some((m) => "ContinueAsNew" in m)).toBe(true);
      await h.provider.abandonOrchestrationItem(fetched.lockToken, null, true);
    }
    await sleep(100); // let a turn that is just finishing hand the start back with its delay
    await old.shutdown();
    expect(hidden).toBe(true);
    // Delayed by the backoff, not merely locked; execution 1 untouched.
    expect(await h.provider.fetchOrchestrationItem(LOCK_MS, 0, null)).toBeNull();
    expect(await h.provider.readWithExecution(instance, 1)).toHaveLength(2);

    await h.client.enqueueEvent(instance, "q", "late"); // arrives while the start is hidden
    const next = h.runtime({ dispatcherMinPollIntervalMs: 10 });
    next.registerOrchestration("RollingSuccessor", function* (ctx) {
      if (ctx.executionId !== 2) throw new Error(`ran as execution ${ctx.executionId}`);
      const first = yield ctx.dequeueEvent("q");
      const second = yield ctx.dequeueEvent("q");
      return `${first},${second}`;
    });
    await next.start();
    const status = await h.client.waitForOrchestration(instance, 10_000);
    await next.shutdown();
    expect(status).toMatchObject({ status: "Completed", output: "carried,late" });
  });

  it("test_continue_as_new_duplicate_start", async () => {
    const cases: [string, boolean][] = [
      ["0.1.30", false],
      ["0.1.30", true],
      ["0.1.31", false],
      ["0.1.31", true],
    ];
    for (const [stamp, collision] of cases) {
      const h = await harness();
      const parent = "provider-can-duplicate-parent";
      const child = `${parent}::can-child`;
      if (collision) {
        await seed(
          h.provider,
          parent,
          [
            event(parent, 1, started("CollisionParent", ""), { stamp }),
            event(parent, 2, {
              type: "SubOrchestrationScheduled",
              name: "Transition",
              instance: "can-child",
              input: JSON.stringify("duplicate"),
            }),
          ],
          [],
          { status: "Running" },
        );
      }
      await seed(
        h.provider,
        child,
        [
          event(child, 1, started("Transition", ""), { stamp }),
          event(child, 2, { type: "OrchestrationContinuedAsNew", input: "next" }),
        ],
        [
          {
            StartOrchestration: {
              instance: child,
              orchestration: "WrongHandler",
              input: "duplicate",
              version: null,
              parent_instance: collision ? parent : null,
              parent_id: collision ? 2 : null,
              ...(collision ? { parent_execution_id: 1 } : {}),
              execution_id: 1,
            },
          },
          {
            ContinueAsNew: {
              instance: child,
              orchestration: "Transition",
              input: "next",
              version: "1.0.0",
              carry_forward_events: [["q", "carried"]],
            },
          },
          queueMessage(child, "late"),
        ],
        { status: "ContinuedAsNew" },
      );
      const rt = h.runtime({ dispatcherMinPollIntervalMs: 10 });
      rt.registerOrchestration("Transition", function* (ctx) {
        if (ctx.executionId !== 2) throw new Error(`ran as execution ${ctx.executionId}`);
        const first = yield ctx.dequeueEvent("q");
        const second = yield ctx.dequeueEvent("q");
        return `${first},${second}`;
      });
      rt.registerOrchestration("CollisionParent", function* (ctx) {
        let value: unknown;
        try {
          value = yield ctx.scheduleSubOrchestrationWithId("Transition", "can-child", "duplicate");
        } catch (error) {
          return (error as Error).message;
        }
        throw new Error(`collision unexpectedly resolved: ${value}`);
      });
      await rt.start();
      const result = await h.client.waitForOrchestration(child, 10_000);
      const parentResult = collision ? await h.client.waitForOrchestration(parent, 10_000) : null;
      await rt.shutdown();
      const label = `${stamp}/${collision ? "collision" : "plain"}`;
      expect(result, label).toMatchObject({ status: "Completed", output: "carried,late" });
      if (parentResult) {
        expect(parentResult.status, label).toBe("Completed");
        const output = String(parentResult.status === "Completed" ? parentResult.output : "");
        expect(output, label).toContain("already exists");
        expect(output, label).not.toContain("is terminal");
      }
      expect(await h.provider.readWithExecution(child, 1), label).toHaveLength(2);
      const successor = await h.provider.readWithExecution(child, 2);
      expect(successor[0], label).toMatchObject({
        type: "OrchestrationStarted",
        name: "Transition",
        input: "next",
      });
    }
  });

  it("test_continue_as_new_transition_delivery", async () => {
    const h = await harness();
    const shapes = ["queue", "race", "mixed-stale", "signal", "cancel", "future-completion", "stale-only"];
    const stamps = ["0.1.30", "0.1.31"];
    const id = (stamp: string, shape: string) => `provider-can-window-${stamp}-${shape}`;
    for (const stamp of stamps) {
      for (const shape of shapes) {
        const instance = id(stamp, shape);
        let inputs: WorkItem[] = [queueMessage(instance, "late")];
        if (shape === "mixed-stale") {
          inputs.push(
            { ActivityCompleted: { instance, execution_id: 1, id: 99, result: "stale" } },
            { TimerFired: { instance, execution_id: 1, id: 100, fire_at_ms: 1 } },
            {
              SubOrchCompleted: {
                parent_instance: instance,
                parent_execution_id: 1,
                parent_id: 101,
                result: "stale",
              },
            },
          );
        }
        if (shape === "future-completion" || shape === "stale-only") {
          const executionId = shape === "future-completion" ? 2 : 1;
          inputs = [
            { ActivityCompleted: { instance, execution_id: executionId, id: 99, result: "unmatched" } },
          ];
        }
        if (shape === "signal") inputs.push({ ExternalRaised: { instance, name: "signal", data: "answer" } });
        if (shape === "cancel") inputs.push({ CancelInstance: { instance, reason: "requested-during-CAN" } });
        await seed(
          h.provider,
          instance,
          [
            event(instance, 1, started("Transition", "old"), { stamp }),
            event(instance, 2, { type: "OrchestrationContinuedAsNew", input: "next" }),
          ],
          inputs,
          {
            status: "ContinuedAsNew",
            output: "next",
            orchestrationName: "Transition",
            orchestrationVersion: "1.0.0",
            pinnedDuroxideVersion: { major: 0, minor: 1, patch: Number(stamp.split(".")[2]) },
          },
        );
      }
    }
    // The successors' starts stay hidden for 2 s while the inputs above are visible.
    for (const stamp of stamps) {
      for (const shape of shapes) {
        const instance = id(stamp, shape);
        await h.provider.enqueueForOrchestrator(
          {
            ContinueAsNew: {
              instance,
              orchestration: "Transition",
              input: "next",
              version: "1.0.0",
              carry_forward_events: [["q", "carried"]],
            },
          },
          2000,
        );
      }
    }
    const rt = h.runtime({
      dispatcherMinPollIntervalMs: 10,
      unregisteredBackoffMs: 250,
      unregisteredBackoffMaxMs: 1000,
    });
    rt.registerOrchestration("Transition", function* (ctx: OrchestrationContext) {
      if (ctx.executionId === 1) return yield ctx.continueAsNew("next");
      const shape = /^provider-can-window-[\d.]+-(.+)$/.exec(ctx.instanceId)![1];
      if (shape === "stale-only") return yield ctx.dequeueEvent("q");
      if (shape === "signal") {
        const answer = yield ctx.waitForEvent("signal");
        const first = yield ctx.dequeueEvent("q");
        const second = yield ctx.dequeueEvent("q");
        return `${first},${second}|${answer}`;
      }
      const values: unknown[] = [];
      while (values.length < 2) {
        if (shape === "race") {
          const won = yield ctx.race(ctx.dequeueEvent("q"), ctx.scheduleTimer(10));
          if (won.index === 0) values.push(won.value);
        } else {
          values.push(yield ctx.dequeueEvent("q"));
        }
      }
      return values.join(",");
    });
    await rt.start();
    for (const stamp of stamps) {
      const signal = id(stamp, "signal");
      await eventually(async () => {
        const history = await h.provider.readWithExecution(signal, 2);
        return (
          history.some((e) => e.type === "ExternalSubscribed" && e.name === "signal") &&
          history.some((e) => e.type === "ExternalEvent" && e.name === "signal" && e.data === "answer")
        );
      }, 10_000);
      await h.client.raiseEvent(signal, "signal", "fresh");
    }
    const results = new Map<string, Awaited<ReturnType<typeof h.client.waitForOrchestration>>>();
    for (const stamp of stamps) {
      for (const shape of shapes)
        results.set(id(stamp, shape), await h.client.waitForOrchestration(id(stamp, shape), 10_000));
    }
    await rt.shutdown();

    for (const stamp of stamps) {
      for (const shape of shapes) {
        const label = `${stamp}/${shape}`;
        const instance = id(stamp, shape);
        const result = results.get(instance)!;
        const old = await h.provider.readWithExecution(instance, 1);
        expect(
          old.map((e) => e.type),
          label,
        ).toEqual(["OrchestrationStarted", "OrchestrationContinuedAsNew"]);
        const successor = await h.provider.readWithExecution(instance, 2);
        expect(successor.length, label).toBeGreaterThan(0);
        // The successor is stamped with this engine's version, not its predecessor's.
        expect(successor[0]!.duroxide_version, label).toBe(ENGINE_VERSION);
        if (shape === "future-completion") {
          expect(result.status, label).toBe("Failed");
          expect(result.status === "Failed" && "Configuration" in result.details, label).toBe(true);
          continue;
        }
        if (shape === "stale-only") {
          expect(result, label).toMatchObject({ status: "Completed", output: "carried" });
          continue;
        }
        if (shape === "cancel") {
          expect(result, label).toMatchObject({
            status: "Failed",
            details: { Application: { kind: { Cancelled: { reason: "requested-during-CAN" } } } },
          });
          continue;
        }
        let expected = "carried,late";
        if (shape === "signal") {
          const binding = successor.find((e) => e.type === "ExternalSubscribed" && e.name === "signal")!;
          const answer = successor.filter(
            (e) => e.type === "ExternalEvent" && e.name === "signal" && e.data === "answer",
          );
          expect(answer, label).toHaveLength(1);
          expected = answer[0]!.event_id < binding.event_id ? "carried,late|fresh" : "carried,late|answer";
        }
        expect(result, label).toMatchObject({ status: "Completed", output: expected });
        const delivered = successor.flatMap((e) =>
          e.type === "ExternalEventPersistent" && e.name === "q" ? [e.data] : [],
        );
        expect(delivered, label).toEqual(["carried", "late"]);
        if (shape === "mixed-stale") {
          const applied = successor.filter(
            (e) =>
              (e.type === "ActivityCompleted" ||
                e.type === "TimerFired" ||
                e.type === "SubOrchestrationCompleted") &&
              (e.source_event_id ?? 0) >= 99,
          );
          expect(applied, label).toEqual([]);
        }
      }
    }
  }, 60_000);

  it("test_queue_race_cancellation_replay", async () => {
    const h = await harness();
    const shapes = ["q1", "q2", "q6"] as const;
    const QS = (name = "q"): EventKind => ({ type: "ExternalSubscribedPersistent", name });
    const QED = (data: string): EventKind => ({ type: "ExternalEventPersistent", name: "q", data });
    const QSC: EventKind = { type: "ExternalSubscribedPersistentCancelled", reason: "dropped_future" };
    const timer = (at: number): EventKind => ({ type: "TimerCreated", fire_at_ms: at });
    const fired = (at: number): EventKind => ({ type: "TimerFired", fire_at_ms: at });
    for (const shape of shapes) {
      const instance = `provider-queue-race-${shape}`;
      const e = (id: number, kind: EventKind, source?: number) =>
        event(instance, id, kind, source === undefined ? {} : { source });
      const history = [event(instance, 1, started("QueueRace", shape), { stamp: "0.1.31" })];
      if (shape === "q1") {
        history.push(
          e(2, QS()),
          e(3, QS()),
          e(4, timer(1000)),
          e(5, fired(1000), 4),
          e(6, QED("first")),
          e(7, QED("second")),
          e(8, QS()),
          e(9, QS()),
          e(10, QSC, 2),
          e(11, QSC, 3),
        );
      } else if (shape === "q2") {
        history.push(
          e(2, QS()),
          e(3, QS()),
          e(4, timer(1000)),
          e(5, QED("first")),
          e(6, QED("second")),
          e(7, QS()),
          e(8, QSC, 3),
        );
      } else {
        history.push(
          e(2, QS()),
          e(3, timer(1000)),
          e(4, timer(1100)),
          e(5, fired(1100), 4),
          e(6, QED("first")),
          e(7, QS()),
          e(8, QSC, 2),
        );
      }
      const checkpointId = history[history.length - 1]!.event_id + 1;
      const expected = shape === "q6" ? "first" : "first,second";
      history.push(
        e(checkpointId, { type: "ActivityScheduled", name: "checkpoint", input: JSON.stringify(expected) }),
      );
      await seed(
        h.provider,
        instance,
        history,
        [{ ActivityCompleted: { instance, execution_id: 1, id: checkpointId, result: "ok" } }],
        { orchestrationName: "QueueRace", orchestrationVersion: "1.0.0" },
      );
      // Exact round trip: every envelope field, the stamp and the source ids included.
      expect(await h.provider.readWithExecution(instance, 1)).toEqual(history);
    }
    const rt = h.runtime({ dispatcherMinPollIntervalMs: 5 });
    rt.registerOrchestration("QueueRace", function* (ctx, input: string) {
      const values: unknown[] = [];
      if (input === "q6") {
        const inner = ctx.race(ctx.dequeueEvent("q"), ctx.scheduleTimer(10));
        yield ctx.race(inner, ctx.scheduleTimer(100));
        values.push(yield ctx.dequeueEvent("q"));
      } else {
        const won = yield ctx.race(ctx.dequeueEvent("q"), ctx.dequeueEvent("q"), ctx.scheduleTimer(10));
        if (won.index < 2) values.push(won.value);
        while (values.length < 2) values.push(yield ctx.dequeueEvent("q"));
      }
      const output = values.join(",");
      yield ctx.scheduleActivity("checkpoint", output);
      return output;
    });
    await rt.start();
    for (const shape of shapes) {
      const status = await h.client.waitForOrchestration(`provider-queue-race-${shape}`, 30_000);
      expect(status, shape).toMatchObject({
        status: "Completed",
        output: shape === "q6" ? "first" : "first,second",
      });
    }
    await rt.shutdown();
  });

  it("test_continue_as_new_queue_race_replay", async () => {
    const h = await harness();
    const shapes = ["can", "can-drain", "can-held", "can-held-nonprefix"];
    for (const shape of shapes) {
      const instance = `provider-combined-race-${shape}`;
      const messages: WorkItem[] = [
        { TimerFired: { instance, execution_id: 1, id: 3, fire_at_ms: 1000 } },
        queueMessage(instance, "m1"),
      ];
      if (shape === "can-drain" || shape === "can-held-nonprefix")
        messages.push(queueMessage(instance, "m2"));
      await seed(
        h.provider,
        instance,
        [
          event(instance, 1, started("CombinedRace", shape), { stamp: "0.1.31" }),
          event(instance, 2, { type: "ExternalSubscribedPersistent", name: "q" }),
          event(instance, 3, { type: "TimerCreated", fire_at_ms: 1000 }),
        ],
        messages,
        { orchestrationName: "CombinedRace", orchestrationVersion: "1.0.0" },
      );
    }
    const rt = h.runtime({ dispatcherMinPollIntervalMs: 5 });
    rt.registerOrchestration("CombinedRace", function* (ctx, input: string) {
      if (ctx.executionId !== 1) return yield ctx.dequeueEvent("q");
      if (input.startsWith("can-held")) {
        // The dequeue is raced by reference: it stays alive, unresolved by the code ("held").
        const held = ctx.dequeueEvent("q");
        yield ctx.race(held.keepAlive(), ctx.scheduleTimer(10));
        if (input === "can-held-nonprefix") yield ctx.dequeueEvent("q");
        return yield ctx.continueAsNew(input);
      }
      yield ctx.race(ctx.dequeueEvent("q"), ctx.scheduleTimer(10));
      if (input === "can-drain") yield ctx.dequeueEvent("q");
      return yield ctx.continueAsNew(input);
    });
    await rt.start();
    for (const shape of shapes) {
      const status = await h.client.waitForOrchestration(`provider-combined-race-${shape}`, 30_000);
      expect(status, shape).toMatchObject({
        status: "Completed",
        output: shape === "can-drain" ? "m2" : "m1",
      });
    }
    await rt.shutdown();
  });

  it("test_positional_wait_race_replay", async () => {
    const h = await harness();
    const instance = "provider-live-signal";
    const LiveSignalRace: OrchestrationFunction = function* (ctx) {
      const won = (yield ctx.race(ctx.waitForEvent("s"), ctx.scheduleTimer(30_000))) as {
        index: number;
        value: unknown;
      };
      const first = won.index === 0 ? won.value : "timeout";
      const second = yield ctx.waitForEvent("s");
      return `${JSON.stringify(first)}:${second}`;
    };
    const rt = h.runtime();
    rt.registerOrchestration("LiveSignalRace", LiveSignalRace);
    await rt.start();
    await h.client.startOrchestration(instance, "LiveSignalRace", "");
    const subscriptions = async (count: number) =>
      eventually(
        async () => {
          const history = await h.provider.read(instance);
          return history.filter((e) => e.type === "ExternalSubscribed" && e.name === "s").length >= count;
        },
        10_000,
        20,
      );
    await subscriptions(1);
    await h.client.raiseEvent(instance, "s", "one");
    await subscriptions(2);
    await h.client.raiseEvent(instance, "s", "two");
    const status = await h.client.waitForOrchestration(instance, 10_000);
    await rt.shutdown();
    expect(status).toMatchObject({ status: "Completed", output: '"one":two' });

    // Replaying the recorded body (without its terminal event) decides the same, and adds nothing.
    const history = (await h.provider.read(instance)).filter((e) => e.type !== "OrchestrationCompleted");
    const start = history[0]!;
    for (let round = 0; round < 2; round++) {
      const log = new EventLog(instance, 1, history[history.length - 1]!.event_id + 1);
      const engine = new ReplayEngine({
        info: {
          instanceId: instance,
          executionId: 1,
          orchestrationName: "LiveSignalRace",
          orchestrationVersion: "1.0.0",
        },
        history,
        log,
        input: fromJson(start.type === "OrchestrationStarted" ? start.input : ""),
        kvSnapshot: new Map(),
        initialCustomStatus: null,
        handler: LiveSignalRace,
        trace: () => {},
        policy: replayPolicyFor(start.duroxide_version),
      });
      expect(engine.run()).toEqual({ kind: "completed", output: JSON.stringify('"one":two') });
      expect(log.delta).toEqual([]);
    }
  });

  it("test_legacy_queue_race_decision_preserved", async () => {
    const h = await harness();
    // Our tasks emit their schedule when first yielded, so t1 is created only after the first race:
    // it is short here (instead of the 60 s duroxide's all-upfront version never waits for).
    const T1_MS = 300;
    const LegacyCompetition: OrchestrationFunction = function* (ctx) {
      const first = ctx.dequeueEvent("q");
      const second = ctx.dequeueEvent("q");
      const t0 = ctx.scheduleTimer(30_000);
      const t1 = ctx.scheduleTimer(T1_MS);
      yield ctx.race(first, t0);
      const won = (yield ctx.race(second, t1)) as { index: number; value: unknown };
      const value = won.index === 0 ? won.value : "second-timeout";
      yield ctx.scheduleActivity("checkpoint", value);
      return value;
    };
    const registry = new OrchestrationRegistry();
    registry.register("LegacyCompetition", "1.0.0", LegacyCompetition);
    const stamps = ["0.1.30", "0.1.31"];
    const item = (instance: string, history: Event[], messages: WorkItem[]) => ({
      instance,
      orchestrationName: "LegacyCompetition",
      executionId: 1,
      version: "1.0.0",
      history,
      messages,
      historyError: null,
      kvSnapshot: new Map(),
    });
    for (const stamp of stamps) {
      const instance = `provider-legacy-decision-${stamp}`;
      const start = event(instance, 1, started("LegacyCompetition", ""), { stamp });
      // The engine's first turn over [event 1]: the first race's dequeue and timer.
      const first = planTurn(item(instance, [start], []), { registry, ...quiet });
      if (first.kind !== "ack") throw new Error(`first turn: ${first.kind}`);
      const history = [start, ...first.plan.delta].map((e) =>
        e.type === "TimerCreated" ? { ...e, fire_at_ms: 1 } : e,
      );
      const t0 = history.find((e) => e.type === "TimerCreated")!;
      await seed(
        h.provider,
        instance,
        history,
        [
          { TimerFired: { instance, execution_id: 1, id: t0.event_id, fire_at_ms: 1 } },
          queueMessage(instance, "first"),
        ],
        { orchestrationName: "LegacyCompetition", orchestrationVersion: "1.0.0" },
      );
      const fetched = (await h.provider.fetchOrchestrationItem(LOCK_MS, 0, null))!;
      expect(fetched.item.instance).toBe(instance);
      expect(fetched.item.history[0]!.duroxide_version).toBe(stamp); // the fetch path keeps the stamp
      const live = planTurn(fetched.item, { registry, ...quiet });
      if (live.kind !== "ack") throw new Error(`live turn: ${live.kind}`);
      expect(live.outcome).toBe("continue");
      const checkpoint = live.plan.delta.find((e) => e.type === "ActivityScheduled");
      if (stamp === "0.1.30") {
        // Legacy: the dropped first dequeue still holds its place and takes "first"; the second waits for t1.
        expect(checkpoint).toBeUndefined();
      } else {
        // Fixed: the dropped dequeue gave up its place at once; the second receives "first".
        expect(checkpoint).toMatchObject({ name: "checkpoint", input: JSON.stringify("first") });
      }
      const { plan } = live;
      await h.provider.ackOrchestrationItem(
        fetched.lockToken,
        plan.executionId,
        plan.delta,
        plan.workerItems,
        plan.orchestratorItems,
        plan.metadata,
        plan.cancelledActivities,
      );
    }
    const rt = h.runtime();
    rt.registerActivity("checkpoint", (_ctx, input: unknown) => input);
    rt.registerOrchestration("LegacyCompetition", LegacyCompetition);
    await rt.start();
    for (const stamp of stamps) {
      const status = await h.client.waitForOrchestration(`provider-legacy-decision-${stamp}`, 10_000);
      expect(status, stamp).toMatchObject({
        status: "Completed",
        output: stamp === "0.1.30" ? "second-timeout" : "first",
      });
    }
    await rt.shutdown();
  });
});
