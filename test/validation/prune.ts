/**
 * prune (4): pruneExecutions removes old executions of a continue-as-new chain, never the current
 * one; pruneExecutionsBulk applies it to the selected instances, running ones included.
 */

import type { ProviderFactory } from "pg-durable";
import { afterEach, describe, expect, it } from "vitest";
import { admin, expectFailure } from "./helpers.ts";
import { createMultiExecutionInstance } from "./helpers-admin.ts";

export function registerPruneTests(factory: ProviderFactory): void {
  describe("prune", () => {
    afterEach(() => factory.cleanup());

    it("test_prune_options_combinations", async () => {
      const provider = await factory.createProvider();
      const mgmt = admin(provider);
      await createMultiExecutionInstance(provider, "prune-options-test", 4);
      expect(await mgmt.listExecutions("prune-options-test")).toHaveLength(4);
      const result = await mgmt.pruneExecutions("prune-options-test", { keepLast: 2 });
      expect(result.instancesProcessed).toBe(1);
      const left = await mgmt.listExecutions("prune-options-test");
      expect(left).toHaveLength(2);
      expect(left.includes(3) || left.includes(4)).toBe(true);

      await createMultiExecutionInstance(provider, "prune-options-empty", 3);
      const info = await mgmt.getInstanceInfo("prune-options-empty");
      await mgmt.pruneExecutions("prune-options-empty", {});
      expect(await mgmt.listExecutions("prune-options-empty")).toEqual([info.currentExecutionId]);
    });

    it("test_prune_safety", async () => {
      const provider = await factory.createProvider();
      const mgmt = admin(provider);
      await createMultiExecutionInstance(provider, "prune-safety-current", 3);
      await mgmt.pruneExecutions("prune-safety-current", { keepLast: 0 });
      expect((await mgmt.getInstanceInfo("prune-safety-current")).currentExecutionId).toBe(3);
      expect(await mgmt.listExecutions("prune-safety-current")).toEqual([3]);
      await expectFailure(mgmt.pruneExecutions("does-not-exist-prune", { keepLast: 1 }), "prune of unknown");
      for (const [label, keepLast] of [
        ["none", null],
        ["zero", 0],
        ["one", 1],
      ] as const) {
        const id = `prune-terminal-${label}`;
        await createMultiExecutionInstance(provider, id, 4);
        expect((await mgmt.getInstanceInfo(id)).status).toBe("Completed");
        const result = await mgmt.pruneExecutions(id, { keepLast });
        expect(await mgmt.listExecutions(id)).toEqual([4]);
        expect(result.executionsDeleted).toBeGreaterThanOrEqual(3);
      }
    });

    it("test_prune_bulk", async () => {
      const provider = await factory.createProvider();
      const mgmt = admin(provider);
      for (const i of [1, 2, 3]) await createMultiExecutionInstance(provider, `prune-bulk-${i}`, 4);
      const result = await mgmt.pruneExecutionsBulk(
        { instanceIds: ["prune-bulk-1", "prune-bulk-2"] },
        { keepLast: 1 },
      );
      expect(result.instancesProcessed).toBe(2);
      expect(result.executionsDeleted).toBeGreaterThanOrEqual(4);
      expect(await mgmt.listExecutions("prune-bulk-1")).toHaveLength(1);
      expect(await mgmt.listExecutions("prune-bulk-2")).toHaveLength(1);
      expect(await mgmt.listExecutions("prune-bulk-3")).toHaveLength(4);
    });

    it("test_prune_bulk_includes_running_instances", async () => {
      const provider = await factory.createProvider();
      const mgmt = admin(provider);
      await createMultiExecutionInstance(provider, "prune-running-actor", 3, "Running");
      const result = await mgmt.pruneExecutionsBulk(
        { instanceIds: ["prune-running-actor"] },
        { keepLast: 1 },
      );
      expect(result.instancesProcessed).toBe(1);
      expect(result.executionsDeleted).toBe(2);
      expect(await mgmt.listExecutions("prune-running-actor")).toEqual([3]);
      expect((await mgmt.getInstanceInfo("prune-running-actor")).status).toBe("Running");
    });
  });
}
