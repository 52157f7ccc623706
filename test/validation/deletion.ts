/**
 * deletion (13): deleting an instance removes everything of it and its sub-orchestrations
 * atomically; running instances need force; sub-orchestrations are deleted through their root;
 * a deleted instance's in-flight ack and stale activity results cannot resurrect it.
 */

import type { Provider, ProviderFactory } from "pg-durable";
import { afterEach, describe, expect, it } from "vitest";
import {
  ack,
  activityCompleted,
  activityExecute,
  admin,
  createInstance,
  expectFailure,
  expectOrchestrationItem,
  expectWorkItem,
  isRetryable,
  poke,
  startedEvent,
  startItem,
  testMetadata,
} from "./helpers.ts";
import {
  createCancelledInstance,
  createCompletedInstance,
  createFailedInstance,
  createRunningInstance,
  instanceExists as exists,
} from "./helpers-admin.ts";

/** root → child1 → grandchild, root → child2, all completed. */
async function createTree(provider: Provider): Promise<void> {
  await createCompletedInstance(provider, "root");
  await createCompletedInstance(provider, "root::child1", "root");
  await createCompletedInstance(provider, "root::child2", "root");
  await createCompletedInstance(provider, "root::child1::grandchild", "root::child1");
}

export function registerDeletionTests(factory: ProviderFactory): void {
  describe("deletion", () => {
    afterEach(() => factory.cleanup());

    it("test_delete_terminal_instances", async () => {
      const provider = await factory.createProvider();
      await createCompletedInstance(provider, "completed-1");
      await createFailedInstance(provider, "failed-1");
      await createCancelledInstance(provider, "cancelled-1");
      const first = await admin(provider).deleteInstance("completed-1", false);
      expect(first.instancesDeleted).toBeGreaterThanOrEqual(1);
      expect(first.executionsDeleted).toBeGreaterThanOrEqual(1);
      expect(first.eventsDeleted).toBeGreaterThanOrEqual(1);
      await admin(provider).deleteInstance("failed-1", false);
      await admin(provider).deleteInstance("cancelled-1", false);
      for (const id of ["completed-1", "failed-1", "cancelled-1"])
        expect(await exists(provider, id)).toBe(false);
    });

    it("test_delete_running_rejected_force_succeeds", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "running-1");
      const error = await expectFailure(
        admin(provider).deleteInstance("running-1", false),
        "non-force delete",
      );
      expect(isRetryable(error)).toBe(false);
      expect(error.message.toLowerCase()).toContain("running");
      expect(await exists(provider, "running-1")).toBe(true);
      const result = await admin(provider).deleteInstance("running-1", true);
      expect(result.instancesDeleted).toBeGreaterThanOrEqual(1);
      expect(await exists(provider, "running-1")).toBe(false);
    });

    it("test_delete_nonexistent_instance", async () => {
      const provider = await factory.createProvider();
      const error = await expectFailure(admin(provider).deleteInstance("no-such-instance", false), "delete");
      expect(isRetryable(error)).toBe(false);
      expect(error.message.toLowerCase()).toContain("not found");
    });

    it("test_delete_cleans_queues_and_locks", async () => {
      const provider = await factory.createProvider();
      const id = "delete-queues-locks";
      await provider.enqueueForOrchestrator(startItem(id), null);
      await provider.enqueueForWorker(activityExecute(id, 1, "PendingActivity"));
      const turn = await expectOrchestrationItem(provider);
      await ack(provider, turn.lockToken, {
        events: [startedEvent(id, 1)],
        metadata: testMetadata({ status: "Completed" }),
      });
      const result = await admin(provider).deleteInstance(id, false);
      expect(result.queueMessagesDeleted).toBeGreaterThanOrEqual(1);
      // The id is reusable: no stale lock, history or metadata.
      await provider.enqueueForOrchestrator(
        startItem(id, { orchestration: "ReusedOrch", input: '{"reused": true}', version: "2.0.0" }),
        null,
      );
      const reused = await expectOrchestrationItem(provider);
      expect(reused.item.orchestrationName).toBe("ReusedOrch");
      expect(reused.item.history).toEqual([]);
      await ack(provider, reused.lockToken, {
        events: [startedEvent(id, 1, { name: "ReusedOrch", version: "2.0.0", input: '{"reused": true}' })],
        metadata: { orchestrationName: "ReusedOrch", orchestrationVersion: "2.0.0" },
      });
      expect((await admin(provider).getInstanceInfo(id)).orchestrationName).toBe("ReusedOrch");
    });

    it("test_cascade_delete_hierarchy", async () => {
      const provider = await factory.createProvider();
      await createTree(provider);
      for (const force of [false, true]) {
        const error = await expectFailure(
          admin(provider).deleteInstance("root::child1", force),
          "child delete",
        );
        expect(error.message.toLowerCase()).toMatch(/sub-orchestration|root|parent/);
      }
      const grandchild = await expectFailure(
        admin(provider).deleteInstance("root::child1::grandchild", false),
        "grandchild delete",
      );
      expect(grandchild.message.toLowerCase()).toMatch(/sub-orchestration|root|parent/);
      const result = await admin(provider).deleteInstance("root", false);
      expect(result.instancesDeleted).toBeGreaterThanOrEqual(1);
      expect(result.executionsDeleted).toBeGreaterThanOrEqual(4);
      for (const id of ["root", "root::child1", "root::child2", "root::child1::grandchild"]) {
        expect(await exists(provider, id)).toBe(false);
      }
    });

    it("test_force_delete_prevents_ack_recreation", async () => {
      const provider = await factory.createProvider();
      const id = "zombie-test";
      await createInstance(provider, id);
      await poke(provider, id);
      const held = await expectOrchestrationItem(provider);
      const result = await admin(provider).deleteInstance(id, true);
      expect(result.instancesDeleted).toBeGreaterThanOrEqual(1);
      await expectFailure(
        ack(provider, held.lockToken, {
          events: [startedEvent(id, 2)],
          metadata: testMetadata({ status: "Completed", output: "zombie" }),
        }),
        "ack after force delete",
      );
      expect(await exists(provider, id)).toBe(false);
    });

    it("test_list_children", async () => {
      const provider = await factory.createProvider();
      await createCompletedInstance(provider, "root");
      await createCompletedInstance(provider, "root::sub::2", "root");
      await createCompletedInstance(provider, "root::sub::3", "root");
      await createCompletedInstance(provider, "root::sub::3::sub::4", "root::sub::3");
      expect((await admin(provider).listChildren("root")).sort()).toEqual(["root::sub::2", "root::sub::3"]);
      expect(await admin(provider).listChildren("root::sub::3")).toEqual(["root::sub::3::sub::4"]);
      expect(await admin(provider).listChildren("root::sub::2")).toEqual([]);
      expect(await admin(provider).listChildren("no-such-instance")).toEqual([]);
    });

    it("test_delete_get_parent_id", async () => {
      const provider = await factory.createProvider();
      await createCompletedInstance(provider, "parent-root");
      await createCompletedInstance(provider, "parent-root::child", "parent-root");
      expect(await admin(provider).getParentId("parent-root")).toBeNull();
      expect(await admin(provider).getParentId("parent-root::child")).toBe("parent-root");
      await expectFailure(admin(provider).getParentId("no-such-instance"), "getParentId of unknown");
    });

    it("test_delete_get_instance_tree", async () => {
      const provider = await factory.createProvider();
      await createTree(provider);
      const tree = await admin(provider).getInstanceTree("root");
      expect(tree.rootId).toBe("root");
      expect(tree.allIds).toHaveLength(4);
      expect(new Set(tree.allIds)).toEqual(
        new Set(["root", "root::child1", "root::child2", "root::child1::grandchild"]),
      );
      const leaf = await admin(provider).getInstanceTree("root::child2");
      expect(leaf).toEqual({ rootId: "root::child2", allIds: ["root::child2"] });
    });

    it("test_delete_instances_atomic", async () => {
      const provider = await factory.createProvider();
      for (const id of ["atomic-1", "atomic-2", "atomic-3"]) await createCompletedInstance(provider, id);
      const result = await admin(provider).deleteInstancesAtomic(["atomic-1", "atomic-2", "atomic-3"], false);
      expect(result.instancesDeleted).toBeGreaterThanOrEqual(1);
      expect(result.executionsDeleted).toBeGreaterThanOrEqual(3);
      for (const id of ["atomic-1", "atomic-2", "atomic-3"]) expect(await exists(provider, id)).toBe(false);
    });

    it("test_delete_instances_atomic_force", async () => {
      const provider = await factory.createProvider();
      await createCompletedInstance(provider, "atomic-done");
      await createRunningInstance(provider, "atomic-running");
      await expectFailure(
        admin(provider).deleteInstancesAtomic(["atomic-done", "atomic-running"], false),
        "non-force",
      );
      expect(await exists(provider, "atomic-done")).toBe(true);
      expect(await exists(provider, "atomic-running")).toBe(true);
      await admin(provider).deleteInstancesAtomic(["atomic-done", "atomic-running"], true);
      expect(await exists(provider, "atomic-done")).toBe(false);
      expect(await exists(provider, "atomic-running")).toBe(false);
    });

    it("test_delete_instances_atomic_orphan_detection", async () => {
      const provider = await factory.createProvider();
      await createCompletedInstance(provider, "orphan-root");
      await createCompletedInstance(provider, "orphan-root::child", "orphan-root");
      const error = await expectFailure(
        admin(provider).deleteInstancesAtomic(["orphan-root"], false),
        "partial tree",
      );
      expect(error.message.toLowerCase()).toMatch(/child|orphan|tree/);
      expect(await exists(provider, "orphan-root")).toBe(true);
      expect(await exists(provider, "orphan-root::child")).toBe(true);
      await admin(provider).deleteInstancesAtomic(["orphan-root", "orphan-root::child"], false);
      expect(await exists(provider, "orphan-root")).toBe(false);
      expect(await exists(provider, "orphan-root::child")).toBe(false);
    });

    it("test_stale_activity_after_delete_recreate", async () => {
      const provider = await factory.createProvider();
      const id = "stale-activity";
      await provider.enqueueForOrchestrator(startItem(id), null);
      const turn = await expectOrchestrationItem(provider);
      await ack(provider, turn.lockToken, {
        events: [startedEvent(id, 1)],
        workerItems: [activityExecute(id, 2, "SlowActivity")],
        metadata: testMetadata({ status: "Running" }),
      });
      const held = await expectWorkItem(provider);
      await admin(provider).deleteInstance(id, true);
      expect(await exists(provider, id)).toBe(false);
      await createInstance(provider, id);
      expect((await admin(provider).getInstanceInfo(id)).orchestrationName).toBe("TestOrch");
      await expectFailure(
        provider.ackWorkItem(held.lockToken, activityCompleted(id, 2, "stale")),
        "stale ack",
      );
      await poke(provider, id);
      const next = await expectOrchestrationItem(provider);
      expect(next.item.messages.some((m) => "ActivityCompleted" in m)).toBe(false);
    });
  });
}
