/**
 * multi_execution: each execution keeps its own history; "latest" comes from the executions table
 * (these tests ack with default metadata, so no instance row exists); the current execution advances.
 */

import type { ProviderFactory } from "pg-durable";
import { afterEach, describe, expect, it } from "vitest";
import {
  ack,
  activityScheduledEvent,
  asEvent,
  completedEvent,
  continueAsNew,
  expectOrchestrationItem,
  fetchOrchestration,
  startedEvent,
  startItem,
  testMetadata,
} from "./helpers.ts";

export function registerMultiExecutionTests(factory: ProviderFactory): void {
  describe("multi_execution", () => {
    afterEach(() => factory.cleanup());

    it("test_execution_isolation", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForOrchestrator(startItem("instance-A", { executionId: 1 }), null);
      const first = await expectOrchestrationItem(provider);
      await ack(provider, first.lockToken, {
        executionId: 1,
        events: [
          startedEvent("instance-A", 1),
          activityScheduledEvent("instance-A", 2, "Activity1", { input: "input1" }),
          completedEvent("instance-A", 3, "result1"),
        ],
      });

      await provider.enqueueForOrchestrator(startItem("instance-A", { executionId: 2 }), null);
      const second = await expectOrchestrationItem(provider);
      await ack(provider, second.lockToken, {
        executionId: 2,
        events: [
          startedEvent("instance-A", 1, { executionId: 2 }),
          completedEvent("instance-A", 2, "result2", { executionId: 2 }),
        ],
      });

      const execution1 = await provider.readWithExecution("instance-A", 1);
      expect(execution1.map((e) => e.type)).toEqual([
        "OrchestrationStarted",
        "ActivityScheduled",
        "OrchestrationCompleted",
      ]);
      const execution2 = await provider.readWithExecution("instance-A", 2);
      expect(execution2.map((e) => e.type)).toEqual(["OrchestrationStarted", "OrchestrationCompleted"]);
      const latest = await provider.read("instance-A");
      expect(
        latest.map((e) => e.type),
        "read returns the latest execution",
      ).toEqual(["OrchestrationStarted", "OrchestrationCompleted"]);
    });

    it("test_latest_execution_detection", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForOrchestrator(startItem("instance-A", { executionId: 1 }), null);
      const first = await expectOrchestrationItem(provider);
      await ack(provider, first.lockToken, {
        executionId: 1,
        events: [activityScheduledEvent("instance-A", 1, "A", { input: "" })],
      });

      await provider.enqueueForOrchestrator(startItem("instance-A", { executionId: 2 }), null);
      const second = await expectOrchestrationItem(provider);
      await ack(provider, second.lockToken, {
        executionId: 2,
        events: [activityScheduledEvent("instance-A", 1, "B", { input: "", executionId: 2 })],
      });

      const latest = await provider.read("instance-A");
      expect(latest).toHaveLength(1);
      expect(asEvent(latest[0], "ActivityScheduled").name).toBe("B");

      const execution1 = await provider.readWithExecution("instance-A", 1);
      expect(execution1).toHaveLength(1);
      expect(asEvent(execution1[0], "ActivityScheduled").name).toBe("A");
    });

    it("test_execution_id_sequencing", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForOrchestrator(startItem("instance-A", { executionId: 1 }), null);
      const first = await expectOrchestrationItem(provider);
      expect(first.item.executionId).toBe(1);
      await ack(provider, first.lockToken, {
        executionId: 1,
        events: [startedEvent("instance-A", 1)],
        metadata: testMetadata(),
      });

      await provider.enqueueForOrchestrator(startItem("instance-A", { executionId: 2 }), null);
      const second = await expectOrchestrationItem(provider);
      // The fetch reports the instance's current execution (1); the ack moves it to 2.
      await ack(provider, second.lockToken, {
        executionId: 2,
        events: [startedEvent("instance-A", 1, { executionId: 2 })],
        metadata: testMetadata(),
      });

      await provider.enqueueForOrchestrator(startItem("instance-A", { executionId: 3 }), null);
      const third = await expectOrchestrationItem(provider);
      expect(third.item.executionId, "the current execution is now 2").toBe(2);
    });

    it("test_continue_as_new_creates_new_execution", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForOrchestrator(startItem("instance-A", { executionId: 1 }), null);
      const first = await expectOrchestrationItem(provider);
      await ack(provider, first.lockToken, { executionId: 1, events: [startedEvent("instance-A", 1)] });

      await provider.enqueueForOrchestrator(continueAsNew("instance-A", { input: "new-input" }), null);
      const second = await expectOrchestrationItem(provider);
      expect(second.item.instance).toBe("instance-A");
      await ack(provider, second.lockToken, {
        executionId: 2,
        events: [startedEvent("instance-A", 1, { executionId: 2, input: "new-input" })],
      });

      // With default metadata the queue is now empty; anything fetched must be on execution 2.
      const after = await fetchOrchestration(provider);
      if (after) expect(after.item.executionId, "continue-as-new moved to execution 2").toBe(2);

      const latest = await provider.read("instance-A");
      expect(latest).toHaveLength(1);
      expect(asEvent(latest[0], "OrchestrationStarted").input, "read returns the new execution").toBe(
        "new-input",
      );
      expect(await provider.readWithExecution("instance-A", 1)).toHaveLength(1);
    });

    it("test_execution_history_persistence", async () => {
      const provider = await factory.createProvider();
      for (let executionId = 1; executionId <= 3; executionId++) {
        await provider.enqueueForOrchestrator(startItem("instance-A", { executionId }), null);
        const fetched = await expectOrchestrationItem(provider);
        await ack(provider, fetched.lockToken, {
          executionId,
          events: [
            activityScheduledEvent("instance-A", 1, `Activity-${executionId}`, {
              input: `input-${executionId}`,
              executionId,
            }),
          ],
        });
      }

      for (let executionId = 1; executionId <= 3; executionId++) {
        const history = await provider.readWithExecution("instance-A", executionId);
        expect(history).toHaveLength(1);
        expect(asEvent(history[0], "ActivityScheduled").name).toBe(`Activity-${executionId}`);
      }
      const latest = await provider.read("instance-A");
      expect(latest).toHaveLength(1);
      expect(asEvent(latest[0], "ActivityScheduled").name).toBe("Activity-3");
    });
  });
}
