/**
 * error_handling: invalid or expired tokens and duplicate event ids are rejected without side effects;
 * unknown instances read as empty; undecodable history surfaces as an error, never as fewer events.
 */

import type { ProviderFactory } from "pg-durable";
import { afterEach, describe, expect, it } from "vitest";
import {
  ack,
  activityScheduledEvent,
  createInstance,
  elapse,
  expectFailure,
  expectOrchestrationItem,
  fetchOrchestration,
  startedEvent,
  startItem,
} from "./helpers.ts";

export function registerErrorHandlingTests(factory: ProviderFactory): void {
  describe("error_handling", () => {
    afterEach(() => factory.cleanup());

    it("test_invalid_lock_token_on_ack", async () => {
      const provider = await factory.createProvider();
      const error = await expectFailure(ack(provider, "invalid-token"), "ack with an unknown token");
      expect(
        error.message.includes("Invalid lock token") || error.message.includes("lock_token"),
        `message should name the lock token problem: ${error.message}`,
      ).toBe(true);
    });

    it("test_duplicate_event_id_rejection", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForOrchestrator(startItem("instance-A"), null);
      const first = await expectOrchestrationItem(provider);
      await ack(provider, first.lockToken, { events: [startedEvent("instance-A", 1)] });

      await provider.enqueueForOrchestrator(startItem("instance-A"), null);
      const second = await expectOrchestrationItem(provider);
      await expectFailure(
        ack(provider, second.lockToken, { events: [activityScheduledEvent("instance-A", 1, "Activity")] }),
        "ack re-using event_id 1",
      );

      const history = await provider.read("instance-A");
      expect(history).toHaveLength(1);
      expect(history[0]?.type).toBe("OrchestrationStarted");
    });

    it("test_missing_instance_metadata", async () => {
      const provider = await factory.createProvider();
      expect(await provider.read("non-existent-instance")).toEqual([]);
    });

    it("test_corrupted_serialization_data", async () => {
      const provider = await factory.createProvider();
      // duroxide's placeholder: a fetch on an empty store must complete normally (and find nothing).
      await expect(fetchOrchestration(provider)).resolves.toBeNull();
    });

    it("test_lock_expiration_during_ack", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      await provider.enqueueForOrchestrator(startItem("instance-A"), null);
      const fetched = await expectOrchestrationItem(provider, { lockTimeoutMs });

      await elapse(factory, lockTimeoutMs + 100);
      await expectFailure(
        ack(provider, fetched.lockToken, { events: [startedEvent("instance-A", 1)] }),
        "ack with an expired lock",
      );
    });

    it("test_read_corrupted_history_returns_error", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "corrupt-read");
      expect((await provider.read("corrupt-read")).length).toBeGreaterThanOrEqual(1);

      await factory.corruptInstanceHistory(provider, "corrupt-read");
      await expectFailure(provider.read("corrupt-read"), "read of a corrupted history");
    });

    it("test_read_with_execution_corrupted_history_returns_error", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "corrupt-read-exec");
      expect((await provider.readWithExecution("corrupt-read-exec", 1)).length).toBeGreaterThanOrEqual(1);

      await factory.corruptInstanceHistory(provider, "corrupt-read-exec");
      await expectFailure(
        provider.readWithExecution("corrupt-read-exec", 1),
        "readWithExecution of a corrupted history",
      );
    });
  });
}
