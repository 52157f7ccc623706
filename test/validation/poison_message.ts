/**
 * poison_message: attempt counts start at 1, grow with every fetch (abandon or lock expiry), are kept
 * per message, shrink (never below 0) on ignoreAttempt abandons, and a batch reports its maximum.
 * Since duroxide 0.1.31 an orchestration abandon's delay and attempt decrement touch only the rows
 * its fetch locked.
 */

import type { Provider, ProviderFactory } from "pg-durable";
import { afterEach, describe, expect, it } from "vitest";
import {
  ack,
  activityCompleted,
  activityExecute,
  elapse,
  expectOrchestrationItem,
  expectWorkItem,
  payloadOf,
  queueMessage,
  startedEvent,
  startItem,
  testMetadata,
} from "./helpers.ts";

/**
 * The 0.1.31 tests' setup: start the instance (OrchestrationStarted with input "", metadata
 * {TestOrch, 1.0.0}), because inputs for an instance that does not exist are dropped at fetch.
 */
async function startInstance(provider: Provider, instance: string): Promise<void> {
  await provider.enqueueForOrchestrator(startItem(instance), null);
  const fetched = await expectOrchestrationItem(provider);
  expect(fetched.item.instance).toBe(instance);
  await ack(provider, fetched.lockToken, {
    events: [startedEvent(instance, 1, { input: "" })],
    metadata: testMetadata(),
  });
}

export function registerPoisonMessageTests(factory: ProviderFactory): void {
  describe("poison_message", () => {
    afterEach(() => factory.cleanup());

    it("orchestration_attempt_count_starts_at_one", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      await provider.enqueueForOrchestrator(startItem("poison-test-1"), null);

      const fetched = await expectOrchestrationItem(provider, { lockTimeoutMs });
      expect(fetched.attemptCount).toBe(1);
      await ack(provider, fetched.lockToken);
    });

    it("orchestration_attempt_count_increments_on_refetch", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      await provider.enqueueForOrchestrator(startItem("poison-test-2"), null);

      const first = await expectOrchestrationItem(provider, { lockTimeoutMs });
      expect(first.attemptCount).toBe(1);
      await provider.abandonOrchestrationItem(first.lockToken, null, false);

      const second = await expectOrchestrationItem(provider, { lockTimeoutMs });
      expect(second.attemptCount).toBe(2);
      await provider.abandonOrchestrationItem(second.lockToken, null, false);

      const third = await expectOrchestrationItem(provider, { lockTimeoutMs });
      expect(third.attemptCount).toBe(3);
      await ack(provider, third.lockToken);
    });

    it("worker_attempt_count_starts_at_one", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      await provider.enqueueForWorker(activityExecute("poison-test-3", 1, "TestActivity"));

      const fetched = await expectWorkItem(provider, { lockTimeoutMs });
      expect(fetched.attemptCount).toBe(1);
      expect(payloadOf(fetched.item, "ActivityExecute").name).toBe("TestActivity");
      await provider.ackWorkItem(fetched.lockToken, activityCompleted("poison-test-3", 1, "done"));
    });

    it("worker_attempt_count_increments_on_lock_expiry", async () => {
      const provider = await factory.createProvider();
      const shortLockMs = 1000;
      await provider.enqueueForWorker(activityExecute("poison-test-4", 1, "TestActivity"));

      const first = await expectWorkItem(provider, { lockTimeoutMs: shortLockMs });
      expect(first.attemptCount).toBe(1);

      await elapse(factory, shortLockMs + 100);
      const second = await expectWorkItem(provider, { lockTimeoutMs: shortLockMs });
      expect(second.attemptCount, "a refetch after lock expiry counts as a new attempt").toBe(2);
      await provider.ackWorkItem(second.lockToken, activityCompleted("poison-test-4", 1, "done"));
    });

    it("attempt_count_is_per_message", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      await provider.enqueueForWorker(activityExecute("poison-test-5a", 1, "Activity1"));
      await provider.enqueueForWorker(activityExecute("poison-test-5b", 2, "Activity2"));

      const first = await expectWorkItem(provider, { lockTimeoutMs });
      expect(first.attemptCount).toBe(1);
      const second = await expectWorkItem(provider, { lockTimeoutMs });
      expect(second.attemptCount).toBe(1);

      const firstActivity = payloadOf(first.item, "ActivityExecute");
      const secondActivity = payloadOf(second.item, "ActivityExecute");
      expect(firstActivity.id, "two different items").not.toBe(secondActivity.id);

      await provider.ackWorkItem(
        first.lockToken,
        activityCompleted(firstActivity.instance, firstActivity.id, "done"),
      );
      await provider.ackWorkItem(
        second.lockToken,
        activityCompleted(secondActivity.instance, secondActivity.id, "done"),
      );
    });

    it("abandon_work_item_ignore_attempt_decrements", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      await provider.enqueueForWorker(activityExecute("poison-test-ignore-1", 1, "TestActivity"));

      const first = await expectWorkItem(provider, { lockTimeoutMs });
      expect(first.attemptCount).toBe(1);
      await provider.abandonWorkItem(first.lockToken, null, false);

      const second = await expectWorkItem(provider, { lockTimeoutMs });
      expect(second.attemptCount).toBe(2);
      await provider.abandonWorkItem(second.lockToken, null, true);

      const third = await expectWorkItem(provider, { lockTimeoutMs });
      expect(third.attemptCount, "decremented to 1, then incremented by the fetch").toBe(2);
      await provider.ackWorkItem(third.lockToken, activityCompleted("poison-test-ignore-1", 1, "done"));
    });

    it("abandon_orchestration_item_ignore_attempt_decrements", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      await provider.enqueueForOrchestrator(startItem("poison-test-ignore-2"), null);

      const first = await expectOrchestrationItem(provider, { lockTimeoutMs });
      expect(first.attemptCount).toBe(1);
      await provider.abandonOrchestrationItem(first.lockToken, null, false);

      const second = await expectOrchestrationItem(provider, { lockTimeoutMs });
      expect(second.attemptCount).toBe(2);
      await provider.abandonOrchestrationItem(second.lockToken, null, true);

      const third = await expectOrchestrationItem(provider, { lockTimeoutMs });
      expect(third.attemptCount, "decremented to 1, then incremented by the fetch").toBe(2);
      await ack(provider, third.lockToken);
    });

    it("ignore_attempt_never_goes_negative", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      await provider.enqueueForWorker(activityExecute("poison-test-never-neg", 1, "TestActivity"));

      const first = await expectWorkItem(provider, { lockTimeoutMs });
      expect(first.attemptCount).toBe(1);
      await provider.abandonWorkItem(first.lockToken, null, true);

      const second = await expectWorkItem(provider, { lockTimeoutMs });
      expect(second.attemptCount).toBe(1);
      await provider.abandonWorkItem(second.lockToken, null, true);

      const third = await expectWorkItem(provider, { lockTimeoutMs });
      expect(third.attemptCount, "the stored count floors at 0, so the next fetch reports 1").toBe(1);
      await provider.ackWorkItem(third.lockToken, activityCompleted("poison-test-never-neg", 1, "done"));
    });

    it("max_attempt_count_across_message_batch", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      await provider.enqueueForOrchestrator(startItem("poison-batch-test"), null);

      const first = await expectOrchestrationItem(provider, { lockTimeoutMs });
      expect(first.attemptCount).toBe(1);
      expect(first.item.messages).toHaveLength(1);
      await provider.abandonOrchestrationItem(first.lockToken, null, false);

      const second = await expectOrchestrationItem(provider, { lockTimeoutMs });
      expect(second.attemptCount).toBe(2);
      await provider.enqueueForOrchestrator(
        activityCompleted("poison-batch-test", 1, "activity result"),
        null,
      );
      await provider.abandonOrchestrationItem(second.lockToken, null, false);

      // The start is on its 3rd fetch, the completion on its 1st: the batch reports the maximum.
      const third = await expectOrchestrationItem(provider, { lockTimeoutMs });
      expect(third.item.messages).toHaveLength(2);
      expect(third.attemptCount).toBe(3);
      await ack(provider, third.lockToken);
    });

    it("orchestration_delayed_abandon_preserves_unlocked_rows", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      const instance = "delayed-abandon-unlocked-rows";
      await startInstance(provider, instance);

      await provider.enqueueForOrchestrator(queueMessage(instance, "q", "locked"), null);
      const locked = await expectOrchestrationItem(provider, { lockTimeoutMs });
      expect(locked.item.messages).toHaveLength(1);
      expect(payloadOf(locked.item.messages[0], "QueueMessage").data).toBe("locked");

      // Arrives while the batch is locked: not part of it.
      await provider.enqueueForOrchestrator(queueMessage(instance, "q", "unlocked"), null);
      await provider.abandonOrchestrationItem(locked.lockToken, 5_000, false);

      const next = await expectOrchestrationItem(provider, { lockTimeoutMs });
      expect(next.item.instance).toBe(instance);
      expect(next.item.messages, "only the row the abandoned fetch locked is delayed").toHaveLength(1);
      expect(payloadOf(next.item.messages[0], "QueueMessage").data).toBe("unlocked");
      await ack(provider, next.lockToken);
    });

    it("orchestration_ignore_attempt_preserves_hidden_start", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      const instance = "ignore-attempt-hidden-start";
      await startInstance(provider, instance);

      await provider.enqueueForOrchestrator(startItem(instance), null);
      const first = await expectOrchestrationItem(provider, { lockTimeoutMs });
      expect(first.attemptCount).toBe(1);
      await provider.abandonOrchestrationItem(first.lockToken, null, false);
      const second = await expectOrchestrationItem(provider, { lockTimeoutMs });
      expect(second.attemptCount).toBe(2);
      // The start is now hidden for 1 s with 2 attempts.
      await provider.abandonOrchestrationItem(second.lockToken, 1_000, false);

      await provider.enqueueForOrchestrator(queueMessage(instance, "q", "w"), null);
      const input = await expectOrchestrationItem(provider, { lockTimeoutMs });
      expect(input.item.messages, "the hidden start is not part of the batch").toHaveLength(1);
      expect(payloadOf(input.item.messages[0], "QueueMessage").data).toBe("w");
      expect(input.attemptCount).toBe(1);
      await provider.abandonOrchestrationItem(input.lockToken, null, true);

      await elapse(factory, 1_100);
      const both = await expectOrchestrationItem(provider, { lockTimeoutMs });
      expect(both.item.messages).toHaveLength(2);
      expect(
        both.attemptCount,
        "the hidden start kept its 2 attempts: the decrement applied only to the locked row",
      ).toBe(3);
      await ack(provider, both.lockToken);
    });
  });
}
