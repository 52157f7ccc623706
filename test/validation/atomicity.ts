/**
 * atomicity: an orchestration ack commits everything or nothing, and only a successful ack releases
 * the instance lock.
 */

import type { ProviderFactory } from "pg-durable";
import { afterEach, describe, expect, it } from "vitest";
import {
  ack,
  activityExecute,
  activityScheduledEvent,
  elapse,
  expectFailure,
  expectNoOrchestrationItem,
  expectNoWorkItem,
  expectOrchestrationItem,
  expectWorkItem,
  externalRaised,
  startedEvent,
  startItem,
  timerCreatedEvent,
  timerFired,
  workItemKind,
} from "./helpers.ts";

export function registerAtomicityTests(factory: ProviderFactory): void {
  describe("atomicity", () => {
    afterEach(() => factory.cleanup());

    it("test_atomicity_failure_rollback", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForOrchestrator(startItem("instance-A"), null);
      const first = await expectOrchestrationItem(provider);
      // Default metadata: history and execution are stored, no instance row.
      await ack(provider, first.lockToken, { events: [startedEvent("instance-A", 1)] });
      expect(await provider.read("instance-A")).toHaveLength(1);

      await provider.enqueueForOrchestrator(startItem("instance-A"), null);
      const second = await expectOrchestrationItem(provider);
      await expectFailure(
        ack(provider, second.lockToken, { events: [startedEvent("instance-A", 1)] }),
        "ack with a duplicate event_id",
      );

      expect(await provider.read("instance-A"), "a failed ack must leave history unchanged").toHaveLength(1);
      // The failed ack must not have released the lock.
      await expectNoOrchestrationItem(provider);
    });

    it("test_multi_operation_atomic_ack", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForOrchestrator(startItem("instance-A"), null);
      const fetched = await expectOrchestrationItem(provider);

      const pastFireAt = 1_234_567_890;
      await ack(provider, fetched.lockToken, {
        events: [
          startedEvent("instance-A", 1),
          activityScheduledEvent("instance-A", 2, "Activity1", { input: "input1" }),
          activityScheduledEvent("instance-A", 3, "Activity2", { input: "input2" }),
          activityScheduledEvent("instance-A", 4, "Activity3", { input: "input3" }),
          timerCreatedEvent("instance-A", 5, pastFireAt),
        ],
        workerItems: [
          activityExecute("instance-A", 1, "Activity1", { input: "input1" }),
          activityExecute("instance-A", 2, "Activity2", { input: "input2" }),
          activityExecute("instance-A", 3, "Activity3", { input: "input3" }),
        ],
        orchestratorItems: [
          timerFired("instance-A", 1, pastFireAt),
          externalRaised("instance-A", "TestEvent", "test-data"),
        ],
      });

      expect(await provider.read("instance-A"), "all 5 events must be persisted").toHaveLength(5);

      for (let i = 0; i < 3; i++) await expectWorkItem(provider);
      await expectNoWorkItem(provider);

      const next = await expectOrchestrationItem(provider);
      expect(next.item.messages.map(workItemKind)).toEqual(["TimerFired", "ExternalRaised"]);
    });

    it("test_lock_released_only_on_successful_ack", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      await provider.enqueueForOrchestrator(startItem("instance-A"), null);
      await expectOrchestrationItem(provider, { lockTimeoutMs });
      await expectNoOrchestrationItem(provider, { lockTimeoutMs });

      await expectFailure(
        ack(provider, "invalid-lock-token", { events: [startedEvent("instance-A", 2)] }),
        "ack with an invalid lock token",
      );
      await expectNoOrchestrationItem(provider, { lockTimeoutMs });

      await elapse(factory, lockTimeoutMs + 100);
      const again = await expectOrchestrationItem(provider, { lockTimeoutMs });
      expect(again.item.instance).toBe("instance-A");
    });

    it("test_concurrent_ack_prevention", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForOrchestrator(startItem("instance-A"), null);
      const fetched = await expectOrchestrationItem(provider);

      const results = await Promise.allSettled([
        ack(provider, fetched.lockToken, { events: [startedEvent("instance-A", 1)] }),
        ack(provider, fetched.lockToken, { events: [startedEvent("instance-A", 1)] }),
      ]);
      expect(
        results.filter((r) => r.status === "fulfilled"),
        "exactly one ack succeeds",
      ).toHaveLength(1);
      expect(
        results.filter((r) => r.status === "rejected"),
        "exactly one ack fails",
      ).toHaveLength(1);
    });
  });
}
