/**
 * queue_semantics: peek-lock worker queue in FIFO order, atomic worker ack, delayed visibility for
 * timers and delayed abandons, redelivery after a lost token, and orphan QueueMessages dropped.
 */

import type { ProviderFactory } from "pg-durable";
import { afterEach, describe, expect, it } from "vitest";
import {
  ack,
  activityCompleted,
  activityExecute,
  createInstance,
  elapse,
  expectNoOrchestrationItem,
  expectNoWorkItem,
  expectOrchestrationItem,
  expectWorkItem,
  payloadOf,
  queueMessage,
  startedEvent,
  startItem,
  timerFired,
  workItemKind,
} from "./helpers.ts";

export function registerQueueSemanticsTests(factory: ProviderFactory): void {
  describe("queue_semantics", () => {
    afterEach(() => factory.cleanup());

    it("test_worker_queue_fifo_ordering", async () => {
      const provider = await factory.createProvider();
      for (let i = 0; i < 5; i++) {
        await provider.enqueueForWorker(
          activityExecute("instance-A", i, `Activity${i}`, { input: `input${i}` }),
        );
      }

      for (let i = 0; i < 5; i++) {
        const fetched = await expectWorkItem(provider);
        const activity = payloadOf(fetched.item, "ActivityExecute");
        expect(activity.id, "items come out in enqueue order").toBe(i);
        expect(activity.name).toBe(`Activity${i}`);
      }
      await expectNoWorkItem(provider);
    });

    it("test_worker_peek_lock_semantics", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(activityExecute("instance-A", 1, "Activity1", { input: "input1" }));

      const fetched = await expectWorkItem(provider);
      expect(workItemKind(fetched.item)).toBe("ActivityExecute");
      await expectNoWorkItem(provider);

      await provider.ackWorkItem(fetched.lockToken, activityCompleted("instance-A", 1, "result1"));
      await expectNoWorkItem(provider);
    });

    it("test_worker_ack_atomicity", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForOrchestrator(startItem("instance-A"), null);
      const turn = await expectOrchestrationItem(provider);
      await ack(provider, turn.lockToken, { events: [startedEvent("instance-A", 1)] });

      await provider.enqueueForWorker(activityExecute("instance-A", 1, "Activity1", { input: "input1" }));
      const fetched = await expectWorkItem(provider);
      await provider.ackWorkItem(fetched.lockToken, activityCompleted("instance-A", 1, "result1"));

      await expectNoWorkItem(provider);
      const next = await expectOrchestrationItem(provider);
      expect(next.item.instance).toBe("instance-A");
      expect(next.item.messages).toHaveLength(1);
      expect(payloadOf(next.item.messages[0], "ActivityCompleted").result).toBe("result1");
    });

    it("test_timer_delayed_visibility", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForOrchestrator(startItem("instance-A"), null);
      const turn = await expectOrchestrationItem(provider);
      await ack(provider, turn.lockToken, { events: [startedEvent("instance-A", 1)] });

      // fire_at_ms 0: visibility comes from the enqueue delay alone.
      await provider.enqueueForOrchestrator(timerFired("instance-A", 1, 0), 5000);
      await expectNoOrchestrationItem(provider);

      await elapse(factory, 5100);
      const fired = await expectOrchestrationItem(provider);
      expect(fired.item.instance).toBe("instance-A");
      expect(fired.item.messages.map(workItemKind)).toEqual(["TimerFired"]);
    });

    it("test_lost_lock_token_handling", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      await provider.enqueueForWorker(activityExecute("instance-A", 1, "Activity1", { input: "input1" }));

      await expectWorkItem(provider, { lockTimeoutMs });
      // The token is "lost" (the worker crashed): the item stays locked until the lock expires.
      await expectNoWorkItem(provider, { lockTimeoutMs });

      await elapse(factory, lockTimeoutMs + 100);
      const redelivered = await expectWorkItem(provider, { lockTimeoutMs });
      expect(payloadOf(redelivered.item, "ActivityExecute").name).toBe("Activity1");
    });

    it("test_worker_item_immediate_visibility", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      await provider.enqueueForWorker(
        activityExecute("test-immediate-vis", 1, "TestActivity", { input: "test" }),
      );

      const fetched = await expectWorkItem(provider, { lockTimeoutMs });
      expect(payloadOf(fetched.item, "ActivityExecute").name).toBe("TestActivity");
      await provider.ackWorkItem(fetched.lockToken, activityCompleted("test-immediate-vis", 1, "done"));
    });

    it("test_worker_delayed_visibility_skips_future_items", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      await provider.enqueueForWorker(
        activityExecute("test-delayed-vis", 1, "Activity1", { input: "first" }),
      );
      await provider.enqueueForWorker(
        activityExecute("test-delayed-vis", 2, "Activity2", { input: "second" }),
      );

      const first = await expectWorkItem(provider, { lockTimeoutMs });
      expect(payloadOf(first.item, "ActivityExecute").id).toBe(1);
      await provider.abandonWorkItem(first.lockToken, 500, false);

      const second = await expectWorkItem(provider, { lockTimeoutMs });
      expect(payloadOf(second.item, "ActivityExecute").id, "the delayed (unlocked) item is skipped").toBe(2);
      await expectNoWorkItem(provider, { lockTimeoutMs });

      await elapse(factory, 600);
      const third = await expectWorkItem(provider, { lockTimeoutMs });
      expect(payloadOf(third.item, "ActivityExecute").id, "visible again after the delay").toBe(1);

      await provider.ackWorkItem(second.lockToken, activityCompleted("test-delayed-vis", 2, "done"));
      await provider.ackWorkItem(third.lockToken, activityCompleted("test-delayed-vis", 1, "done"));
    });

    it("test_orphan_queue_messages_dropped", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForOrchestrator(queueMessage("orphan-test", "ConfigUpdate", "v1"), null);
      await provider.enqueueForOrchestrator(queueMessage("orphan-test", "ConfigUpdate", "v2"), null);

      await expectNoOrchestrationItem(provider, { lockTimeoutMs: 5000 });
      // Dropped, not left to loop: a second fetch finds nothing either.
      await expectNoOrchestrationItem(provider, { lockTimeoutMs: 5000 });

      await createInstance(provider, "orphan-test-existing");
      await provider.enqueueForOrchestrator(queueMessage("orphan-test-existing", "ConfigUpdate", "v3"), null);

      const fetched = await expectOrchestrationItem(provider, { lockTimeoutMs: 5000 });
      expect(fetched.item.instance).toBe("orphan-test-existing");
      const delivered = fetched.item.messages.some(
        (m) => "QueueMessage" in m && m.QueueMessage.name === "ConfigUpdate" && m.QueueMessage.data === "v3",
      );
      expect(
        delivered,
        `QueueMessage v3 must be delivered, got ${JSON.stringify(fetched.item.messages)}`,
      ).toBe(true);
      await ack(provider, fetched.lockToken, { executionId: fetched.item.executionId });
    });
  });
}
