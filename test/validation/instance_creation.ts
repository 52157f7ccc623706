/**
 * instance_creation: instances come into being through ack metadata, never on enqueue; until then a
 * fetch derives name/version/execution from the start item in the batch.
 */

import type { ProviderFactory } from "pg-durable";
import { afterEach, describe, expect, it } from "vitest";
import { ack, expectOrchestrationItem, startedEvent, startItem } from "./helpers.ts";

export function registerInstanceCreationTests(factory: ProviderFactory): void {
  describe("instance_creation", () => {
    afterEach(() => factory.cleanup());

    it("test_instance_creation_via_metadata", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForOrchestrator(startItem("instance-A"), null);

      const first = await expectOrchestrationItem(provider);
      expect(first.item.instance).toBe("instance-A");
      expect(first.item.orchestrationName, "name comes from the start item").toBe("TestOrch");
      expect(first.item.executionId).toBe(1);
      expect(first.item.history).toHaveLength(0);

      // The runtime resolved version 2.0.0 although the start item asked for 1.0.0.
      await ack(provider, first.lockToken, {
        events: [startedEvent("instance-A", 1, { version: "2.0.0" })],
        metadata: { orchestrationName: "TestOrch", orchestrationVersion: "2.0.0" },
      });

      await provider.enqueueForOrchestrator(startItem("instance-A"), null);
      const second = await expectOrchestrationItem(provider);
      expect(second.item.instance).toBe("instance-A");
      expect(second.item.orchestrationName).toBe("TestOrch");
      expect(second.item.version, "the instance row's version wins over the work item's").toBe("2.0.0");
      expect(second.item.executionId).toBe(1);
      expect(second.item.history).toHaveLength(1);

      await ack(provider, second.lockToken);
    });

    it("test_no_instance_creation_on_enqueue", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForOrchestrator(startItem("instance-B"), null);

      const fetched = await expectOrchestrationItem(provider);
      expect(fetched.item.instance, "a start is fetchable although no instance row exists").toBe(
        "instance-B",
      );

      await ack(provider, fetched.lockToken, {
        events: [startedEvent("instance-B", 1)],
        metadata: { orchestrationName: "TestOrch", orchestrationVersion: "1.0.0" },
      });
    });

    it("test_null_version_handling", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForOrchestrator(startItem("instance-C", { version: null }), null);

      const first = await expectOrchestrationItem(provider);
      expect(first.item.instance).toBe("instance-C");
      await ack(provider, first.lockToken, {
        events: [startedEvent("instance-C", 1, { version: "3.0.0" })],
        metadata: { orchestrationName: "TestOrch", orchestrationVersion: "3.0.0" },
      });

      await provider.enqueueForOrchestrator(startItem("instance-C"), null);
      const second = await expectOrchestrationItem(provider);
      expect(second.item.version, "version set through metadata").toBe("3.0.0");
      await ack(provider, second.lockToken);
    });

    it("test_sub_orchestration_instance_creation", async () => {
      const provider = await factory.createProvider();
      const child = "parent-instance::child-instance";
      await provider.enqueueForOrchestrator(startItem("parent-instance"), null);

      const parent = await expectOrchestrationItem(provider);
      await ack(provider, parent.lockToken, {
        events: [startedEvent("parent-instance", 1, { name: "ParentOrch" })],
        orchestratorItems: [
          startItem(child, {
            orchestration: "ChildOrch",
            version: null,
            parentInstance: "parent-instance",
            parentId: 1,
          }),
        ],
        metadata: { orchestrationName: "ParentOrch", orchestrationVersion: "1.0.0" },
      });

      const childTurn = await expectOrchestrationItem(provider);
      expect(childTurn.item.instance, "the child is fetchable without an instance row").toBe(child);
      expect(childTurn.item.orchestrationName).toBe("ChildOrch");
      await ack(provider, childTurn.lockToken, {
        events: [
          startedEvent(child, 1, {
            name: "ChildOrch",
            version: "1.5.0",
            parentInstance: "parent-instance",
            parentId: 1,
          }),
        ],
        metadata: { orchestrationName: "ChildOrch", orchestrationVersion: "1.5.0" },
      });

      await provider.enqueueForOrchestrator(
        startItem(child, { orchestration: "ChildOrch", version: null }),
        null,
      );
      const again = await expectOrchestrationItem(provider);
      expect(again.item.instance).toBe(child);
      expect(again.item.version, "version from the child's metadata").toBe("1.5.0");
      await ack(provider, again.lockToken);
    });
  });
}
