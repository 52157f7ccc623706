/**
 * bulk_deletion (4): deleteInstanceBulk selects terminal root instances by filter (ids, completed
 * before, limit), skips running ones, and deletes each root with its whole tree.
 */

import type { ProviderFactory } from "pg-durable";
import { afterEach, describe, expect, it } from "vitest";
import { admin, createInstance, elapse, storeNow } from "./helpers.ts";
import { createCompletedInstance, instanceExists as exists } from "./helpers-admin.ts";

export function registerBulkDeletionTests(factory: ProviderFactory): void {
  describe("bulk_deletion", () => {
    afterEach(() => factory.cleanup());

    it("test_delete_instance_bulk_filter_combinations", async () => {
      const provider = await factory.createProvider();
      for (let i = 0; i < 5; i++) await createCompletedInstance(provider, `bulk-del-filter-${i}`);
      const byId = await admin(provider).deleteInstanceBulk({
        instanceIds: ["bulk-del-filter-0", "bulk-del-filter-1"],
      });
      expect(byId.instancesDeleted).toBe(2);
      expect(await exists(provider, "bulk-del-filter-0")).toBe(false);
      expect(await exists(provider, "bulk-del-filter-1")).toBe(false);
      expect(await exists(provider, "bulk-del-filter-2")).toBe(true);
      const missing = await admin(provider).deleteInstanceBulk({
        instanceIds: ["does-not-exist-1", "does-not-exist-2"],
      });
      expect(missing.instancesDeleted).toBe(0);
      const rest = await admin(provider).deleteInstanceBulk({});
      expect(rest.instancesDeleted).toBeGreaterThanOrEqual(3);
      for (const i of [2, 3, 4]) expect(await exists(provider, `bulk-del-filter-${i}`)).toBe(false);
    });

    it("test_delete_instance_bulk_safety_and_limits", async () => {
      const provider = await factory.createProvider();
      await createCompletedInstance(provider, "bulk-del-safe-completed-1");
      await createCompletedInstance(provider, "bulk-del-safe-completed-2");
      await createInstance(provider, "bulk-del-safe-running-1");
      await createInstance(provider, "bulk-del-safe-running-2");
      const ids = [
        "bulk-del-safe-completed-1",
        "bulk-del-safe-completed-2",
        "bulk-del-safe-running-1",
        "bulk-del-safe-running-2",
      ];
      const result = await admin(provider).deleteInstanceBulk({ instanceIds: ids });
      expect(result.instancesDeleted).toBe(2);
      expect(await exists(provider, "bulk-del-safe-running-1")).toBe(true);
      expect(await exists(provider, "bulk-del-safe-running-2")).toBe(true);
      for (let i = 0; i < 4; i++) await createCompletedInstance(provider, `bulk-del-batch-${i}`);
      expect((await admin(provider).deleteInstanceBulk({ limit: 2 })).instancesDeleted).toBe(2);
      expect((await admin(provider).deleteInstanceBulk({ limit: 2 })).instancesDeleted).toBe(2);
      expect((await admin(provider).deleteInstanceBulk({ limit: 2 })).instancesDeleted).toBe(0);
    });

    it("test_delete_instance_bulk_completed_before_filter", async () => {
      const provider = await factory.createProvider();
      const beforeCreation = storeNow(factory);
      await elapse(factory, 10);
      await createCompletedInstance(provider, "bulk-del-time-1");
      await createCompletedInstance(provider, "bulk-del-time-2");
      await elapse(factory, 10);
      const afterCreation = storeNow(factory);
      const ids = ["bulk-del-time-1", "bulk-del-time-2"];
      const none = await admin(provider).deleteInstanceBulk({
        instanceIds: ids,
        completedBefore: beforeCreation,
      });
      expect(none.instancesDeleted).toBe(0);
      expect(await exists(provider, "bulk-del-time-1")).toBe(true);
      expect(await exists(provider, "bulk-del-time-2")).toBe(true);
      const both = await admin(provider).deleteInstanceBulk({
        instanceIds: ids,
        completedBefore: afterCreation,
      });
      expect(both.instancesDeleted).toBe(2);
      expect(await exists(provider, "bulk-del-time-1")).toBe(false);
    });

    it("test_delete_instance_bulk_cascades_to_children", async () => {
      const provider = await factory.createProvider();
      await createCompletedInstance(provider, "bulk-parent-1");
      await createCompletedInstance(provider, "bulk-parent-1::child-1", "bulk-parent-1");
      await createCompletedInstance(provider, "bulk-parent-2");
      for (let i = 1; i <= 3; i++)
        await createCompletedInstance(provider, `bulk-parent-2::child-${i}`, "bulk-parent-2");
      await createCompletedInstance(provider, "bulk-standalone");
      const result = await admin(provider).deleteInstanceBulk({
        instanceIds: ["bulk-parent-1", "bulk-parent-2", "bulk-standalone"],
      });
      expect(result.instancesDeleted).toBe(7);
      for (const id of [
        "bulk-parent-1",
        "bulk-parent-1::child-1",
        "bulk-parent-2",
        "bulk-parent-2::child-1",
        "bulk-parent-2::child-2",
        "bulk-parent-2::child-3",
        "bulk-standalone",
      ]) {
        expect(await exists(provider, id)).toBe(false);
      }
    });
  });
}
