/**
 * management (13): listings, instance and execution info, system metrics, queue depths, and the
 * per-instance stats (history size, carried-forward queue, KV keys and bytes).
 */

import type { ExecutionMetadata, Provider, ProviderFactory } from "pg-durable";
import { afterEach, describe, expect, it } from "vitest";
import {
  ack,
  admin,
  completedEvent,
  createInstance,
  expectOrchestrationItem,
  kvSetEvent,
  makeEvent,
  runTurn,
  startedEvent,
  startItem,
  testMetadata,
} from "./helpers.ts";

/** First turn of a fresh start, acked with `metadata` (and an OrchestrationStarted of `started`). */
async function firstTurn(
  provider: Provider,
  instance: string,
  metadata: ExecutionMetadata,
  started: Parameters<typeof startedEvent>[2] = {},
  eventInstance = instance,
): Promise<void> {
  await provider.enqueueForOrchestrator(startItem(instance), null);
  const fetched = await expectOrchestrationItem(provider);
  expect(fetched.item.instance).toBe(instance);
  await ack(provider, fetched.lockToken, { events: [startedEvent(eventInstance, 1, started)], metadata });
}

export function registerManagementTests(factory: ProviderFactory): void {
  describe("management", () => {
    afterEach(() => factory.cleanup());

    it("test_list_instances", async () => {
      const provider = await factory.createProvider();
      for (let i = 0; i < 3; i++) await createInstance(provider, `mgmt-inst-${i}`);
      const instances = await admin(provider).listInstances();
      expect(instances.length).toBeGreaterThanOrEqual(3);
      for (let i = 0; i < 3; i++) expect(instances).toContain(`mgmt-inst-${i}`);
    });

    it("test_list_instances_by_status", async () => {
      const provider = await factory.createProvider();
      await firstTurn(provider, "mgmt-completed", testMetadata({ status: "Completed", output: "done" }));
      expect(await admin(provider).listInstancesByStatus("Completed")).toContain("mgmt-completed");
      expect(await admin(provider).listInstancesByStatus("Running")).not.toContain("mgmt-completed");
    });

    it("test_list_executions", async () => {
      const provider = await factory.createProvider();
      await firstTurn(provider, "mgmt-multi-exec", {});
      expect(await admin(provider).listExecutions("mgmt-multi-exec")).toContain(1);
    });

    it("test_get_instance_info", async () => {
      const provider = await factory.createProvider();
      await firstTurn(
        provider,
        "mgmt-info",
        { orchestrationName: "InfoOrch", orchestrationVersion: "2.0.0" },
        { name: "InfoOrch", version: "2.0.0" },
      );
      const info = await admin(provider).getInstanceInfo("mgmt-info");
      expect(info).toMatchObject({
        instanceId: "mgmt-info",
        orchestrationName: "InfoOrch",
        orchestrationVersion: "2.0.0",
        currentExecutionId: 1,
      });
    });

    it("test_get_execution_info", async () => {
      const provider = await factory.createProvider();
      // No name/version: no instance row; the event even names another instance.
      await firstTurn(
        provider,
        "mgmt-exec-info",
        { status: "Completed", output: "result" },
        {},
        "some-other-instance",
      );
      const info = await admin(provider).getExecutionInfo("mgmt-exec-info", 1);
      expect(info).toMatchObject({ executionId: 1, status: "Completed", output: "result" });
      expect(info.eventCount).toBe(1);
    });

    it("test_get_system_metrics", async () => {
      const provider = await factory.createProvider();
      const before = await admin(provider).getSystemMetrics();
      await createInstance(provider, "mgmt-metrics");
      const after = await admin(provider).getSystemMetrics();
      expect(after.totalInstances).toBeGreaterThan(before.totalInstances);
      expect(after.totalEvents).toBeGreaterThan(0);
      expect(after.runningInstances).toBeGreaterThanOrEqual(1);
    });

    it("test_get_queue_depths", async () => {
      const provider = await factory.createProvider();
      const before = await admin(provider).getQueueDepths();
      await provider.enqueueForOrchestrator(startItem("mgmt-depth"), null);
      const after = await admin(provider).getQueueDepths();
      expect(after.orchestratorQueue).toBeGreaterThan(before.orchestratorQueue);
      expect(after.timerQueue).toBe(0);
    });

    it("test_get_instance_stats_nonexistent", async () => {
      const provider = await factory.createProvider();
      expect(await provider.getInstanceStats("no-such-instance")).toBeNull();
    });

    it("test_get_instance_stats_history", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "stats-history");
      const stats = await provider.getInstanceStats("stats-history");
      expect(stats).not.toBeNull();
      expect(stats!.historyEventCount).toBeGreaterThanOrEqual(1);
      expect(stats!.historySizeBytes).toBeGreaterThan(0);
      expect(stats!.kvUserKeyCount).toBe(0);
      expect(stats!.kvTotalValueBytes).toBe(0);
      expect(stats!.queuePendingCount).toBe(0);
    });

    it("test_get_instance_stats_kv", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "stats-kv");
      await runTurn(provider, "stats-kv", {
        events: [
          kvSetEvent("stats-kv", 2, "k1", "aaa"),
          kvSetEvent("stats-kv", 3, "k2", "bbbbb"),
          completedEvent("stats-kv", 4, "done"),
        ],
        metadata: testMetadata({ status: "Completed", output: "done" }),
      });
      const stats = await provider.getInstanceStats("stats-kv");
      expect(stats).toMatchObject({ kvUserKeyCount: 2, kvTotalValueBytes: 8 });
    });

    it("test_get_instance_stats_carry_forward", async () => {
      const provider = await factory.createProvider();
      await firstTurn(provider, "stats-carry", testMetadata(), {
        carryForwardEvents: [
          ["q", "1"],
          ["q", "2"],
          ["q", "3"],
        ],
      });
      const stats = await provider.getInstanceStats("stats-carry");
      expect(stats).not.toBeNull();
      expect(stats!.queuePendingCount).toBe(3);
      expect(stats!.historyEventCount).toBeGreaterThanOrEqual(1);
      expect(stats!.historySizeBytes).toBeGreaterThan(0);
      expect(stats!.kvUserKeyCount).toBe(0);
    });

    it("test_get_instance_stats_kv_delta_only", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "stats-delta");
      await runTurn(provider, "stats-delta", {
        events: [kvSetEvent("stats-delta", 2, "dk1", "xxx"), kvSetEvent("stats-delta", 3, "dk2", "yyyyyy")],
      });
      const stats = await provider.getInstanceStats("stats-delta");
      expect(stats).toMatchObject({ kvUserKeyCount: 2, kvTotalValueBytes: 9, queuePendingCount: 0 });
    });

    it("test_get_instance_stats_kv_merged", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "stats-merged");
      await runTurn(provider, "stats-merged", {
        events: [kvSetEvent("stats-merged", 2, "mk1", "aaa"), kvSetEvent("stats-merged", 3, "mk2", "bb")],
      });
      expect(await provider.getInstanceStats("stats-merged")).toMatchObject({
        kvUserKeyCount: 2,
        kvTotalValueBytes: 5,
      });
      await runTurn(provider, "stats-merged", {
        events: [
          kvSetEvent("stats-merged", 4, "mk1", "zzzzz"),
          makeEvent("stats-merged", 5, { type: "OrchestrationCompleted", output: "done" }),
        ],
        metadata: testMetadata({ status: "Completed", output: "done" }),
      });
      expect(await provider.getInstanceStats("stats-merged")).toMatchObject({
        kvUserKeyCount: 2,
        kvTotalValueBytes: 7,
      });
    });
  });
}
