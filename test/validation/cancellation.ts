/**
 * cancellation (16): the worker queue does not care about the orchestration's state (the first
 * eight names date from a short-lived "execution state" API); cancelling activities deletes their
 * worker rows, locked or not, after the same ack's inserts; a deleted row fails ack and renew.
 */

import type { Event, ExecutionMetadata, Provider, ProviderFactory, WorkItem } from "pg-durable";
import { afterEach, describe, expect, it } from "vitest";
import {
  ack,
  activityCompleted,
  activityExecute,
  admin,
  appError,
  completedEvent,
  continuedAsNewEvent,
  expectFailure,
  expectNoOrchestrationItem,
  expectNoWorkItem,
  expectOrchestrationItem,
  expectWorkItem,
  failedEvent,
  isRetryable,
  poke,
  startedEvent,
  startItem,
  testMetadata,
} from "./helpers.ts";

const RUNNING: ExecutionMetadata = { orchestrationName: "TestOrch", status: "Running" };

/** First turn of `instance`: OrchestrationStarted plus these worker items, with `metadata`. */
async function startWithActivities(
  provider: Provider,
  instance: string,
  workerItems: WorkItem[],
  metadata: ExecutionMetadata = RUNNING,
  extraEvents: Event[] = [],
): Promise<void> {
  await provider.enqueueForOrchestrator(startItem(instance), null);
  const turn = await expectOrchestrationItem(provider);
  expect(turn.item.instance).toBe(instance);
  await ack(provider, turn.lockToken, {
    events: [startedEvent(instance, 1), ...extraEvents],
    workerItems,
    metadata,
  });
}

/** The activity ids of every work item fetchable now (each stays locked). */
async function drainIds(provider: Provider): Promise<number[]> {
  const ids: number[] = [];
  for (;;) {
    const fetched = await provider.fetchWorkItem(30_000, 0, null, { kind: "defaultOnly" });
    if (!fetched) return ids;
    if ("ActivityExecute" in fetched.item) ids.push(fetched.item.ActivityExecute.id);
  }
}

export function registerCancellationTests(factory: ProviderFactory): void {
  describe("cancellation", () => {
    afterEach(() => factory.cleanup());

    it("test_fetch_returns_running_state_for_active_orchestration", async () => {
      const provider = await factory.createProvider();
      await startWithActivities(provider, "inst-running", [
        activityExecute("inst-running", 1, "TestActivity"),
      ]);
      const fetched = await expectWorkItem(provider);
      expect(fetched.item).toEqual(activityExecute("inst-running", 1, "TestActivity"));
    });

    it("test_fetch_returns_terminal_state_when_orchestration_completed", async () => {
      const provider = await factory.createProvider();
      await startWithActivities(
        provider,
        "inst-completed",
        [activityExecute("inst-completed", 2, "TestActivity")],
        { orchestrationName: "TestOrch", status: "Completed", output: "done" },
        [completedEvent("inst-completed", 3, "done")],
      );
      await expectWorkItem(provider);
    });

    it("test_fetch_returns_terminal_state_when_orchestration_failed", async () => {
      const provider = await factory.createProvider();
      await startWithActivities(
        provider,
        "inst-failed",
        [activityExecute("inst-failed", 2, "TestActivity")],
        { orchestrationName: "TestOrch", status: "Failed", output: "boom" },
        [failedEvent("inst-failed", 3, appError("boom"))],
      );
      await expectWorkItem(provider);
    });

    it("test_fetch_returns_terminal_state_when_orchestration_continued_as_new", async () => {
      const provider = await factory.createProvider();
      await startWithActivities(
        provider,
        "inst-can",
        [activityExecute("inst-can", 2, "TestActivity")],
        { orchestrationName: "TestOrch", status: "ContinuedAsNew", output: "{}" },
        [continuedAsNewEvent("inst-can", 3, "{}")],
      );
      await expectWorkItem(provider);
    });

    it("test_fetch_returns_missing_state_when_instance_deleted", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(activityExecute("inst-never-existed", 1, "TestActivity"));
      const fetched = await expectWorkItem(provider);
      expect(fetched.item).toEqual(activityExecute("inst-never-existed", 1, "TestActivity"));
    });

    it("test_renew_returns_running_when_orchestration_active", async () => {
      const provider = await factory.createProvider();
      await startWithActivities(provider, "inst-renew-running", [
        activityExecute("inst-renew-running", 1, "TestActivity"),
      ]);
      const fetched = await expectWorkItem(provider);
      await provider.renewWorkItemLock(fetched.lockToken, 30_000);
    });

    it("test_renew_returns_terminal_when_orchestration_completed", async () => {
      const provider = await factory.createProvider();
      await startWithActivities(provider, "inst-renew-done", [
        activityExecute("inst-renew-done", 1, "TestActivity"),
      ]);
      const fetched = await expectWorkItem(provider);
      await poke(provider, "inst-renew-done");
      const turn = await expectOrchestrationItem(provider);
      await ack(provider, turn.lockToken, {
        events: [completedEvent("inst-renew-done", 2, "done")],
        metadata: { orchestrationName: "TestOrch", status: "Completed", output: "done" },
      });
      await provider.renewWorkItemLock(fetched.lockToken, 30_000);
    });

    it("test_renew_returns_missing_when_instance_deleted", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(activityExecute("inst-renew-missing", 1, "TestActivity"));
      const fetched = await expectWorkItem(provider);
      await provider.renewWorkItemLock(fetched.lockToken, 30_000);
    });

    it("test_ack_work_item_none_deletes_without_enqueue", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(activityExecute("inst-ack-none", 1, "TestActivity"));
      const fetched = await expectWorkItem(provider);
      await provider.ackWorkItem(fetched.lockToken, null);
      await expectNoWorkItem(provider);
      await expectNoOrchestrationItem(provider);
    });

    it("test_cancelled_activities_deleted_from_worker_queue", async () => {
      const provider = await factory.createProvider();
      const instance = "inst-cancel-delete";
      await startWithActivities(provider, instance, [
        activityExecute(instance, 1, "Activity1"),
        activityExecute(instance, 2, "Activity2"),
        activityExecute(instance, 3, "Activity3"),
      ]);
      const locked = await expectWorkItem(provider); // activity 1, now locked by a worker
      expect("ActivityExecute" in locked.item && locked.item.ActivityExecute.id).toBe(1);
      await poke(provider, instance);
      const turn = await expectOrchestrationItem(provider);
      await ack(provider, turn.lockToken, {
        metadata: RUNNING,
        cancelledActivities: [
          { instance, executionId: 1, activityId: 1 },
          { instance, executionId: 1, activityId: 2 },
        ],
      });
      expect(await drainIds(provider)).toEqual([3]);
      // The locked one was deleted too: its worker learns on ack.
      await expectFailure(
        provider.ackWorkItem(locked.lockToken, activityCompleted(instance, 1)),
        "ack of a cancelled item",
      );
    });

    it("test_ack_work_item_fails_when_entry_deleted", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(activityExecute("inst-ack-deleted", 1, "TestActivity"));
      const fetched = await expectWorkItem(provider);
      await provider.ackWorkItem(fetched.lockToken, null);
      const error = await expectFailure(
        provider.ackWorkItem(fetched.lockToken, activityCompleted("inst-ack-deleted", 1)),
        "second ack",
      );
      expect(isRetryable(error)).toBe(false);
    });

    it("test_renew_fails_when_entry_deleted", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(activityExecute("inst-renew-deleted", 1, "TestActivity"));
      const fetched = await expectWorkItem(provider);
      await provider.ackWorkItem(fetched.lockToken, null);
      await expectFailure(provider.renewWorkItemLock(fetched.lockToken, 30_000), "renew of a deleted item");
    });

    it("test_cancelling_nonexistent_activities_is_idempotent", async () => {
      const provider = await factory.createProvider();
      const instance = "inst-cancel-none";
      await provider.enqueueForOrchestrator(startItem(instance), null);
      const turn = await expectOrchestrationItem(provider);
      await ack(provider, turn.lockToken, {
        events: [startedEvent(instance, 1)],
        metadata: RUNNING,
        cancelledActivities: [
          { instance, executionId: 1, activityId: 999 },
          { instance, executionId: 1, activityId: 1 },
        ],
      });
      expect(await provider.read(instance)).toHaveLength(1);
    });

    it("test_batch_cancellation_deletes_multiple_activities", async () => {
      const provider = await factory.createProvider();
      const instance = "inst-batch-cancel";
      const ids = [1, 2, 3, 4, 5];
      await startWithActivities(
        provider,
        instance,
        ids.map((id) => activityExecute(instance, id, `Activity${id}`)),
      );
      await poke(provider, instance);
      const turn = await expectOrchestrationItem(provider);
      await ack(provider, turn.lockToken, {
        metadata: RUNNING,
        cancelledActivities: ids.map((activityId) => ({ instance, executionId: 1, activityId })),
      });
      await expectNoWorkItem(provider);
    });

    it("test_same_activity_in_worker_items_and_cancelled_is_noop", async () => {
      const provider = await factory.createProvider();
      const instance = "inst-same-turn";
      await provider.enqueueForOrchestrator(startItem(instance), null);
      const turn = await expectOrchestrationItem(provider);
      await ack(provider, turn.lockToken, {
        events: [startedEvent(instance, 1)],
        workerItems: [
          activityExecute(instance, 2, "CancelledActivity"),
          activityExecute(instance, 3, "NormalActivity"),
        ],
        metadata: RUNNING,
        cancelledActivities: [{ instance, executionId: 1, activityId: 2 }],
      });
      const only = await expectWorkItem(provider);
      expect(only.item).toEqual(activityExecute(instance, 3, "NormalActivity"));
      await expectNoWorkItem(provider);
    });

    it("test_orphan_activity_after_instance_force_deletion", async () => {
      const provider = await factory.createProvider();
      const instance = "inst-orphan-activity";
      await startWithActivities(
        provider,
        instance,
        [activityExecute(instance, 2, "OrphanActivity")],
        testMetadata({ status: "Running" }),
      );
      const result = await admin(provider).deleteInstance(instance, true);
      expect(result.instancesDeleted).toBeGreaterThanOrEqual(1);
      await expectFailure(admin(provider).getInstanceInfo(instance), "getInstanceInfo of a deleted instance");
      // The activity may or may not have been removed with the instance; if it is still there,
      // completing it must not fail.
      const fetched = await provider.fetchWorkItem(5_000, 0, null, { kind: "defaultOnly" });
      if (fetched) await provider.ackWorkItem(fetched.lockToken, activityCompleted(instance, 2));
    });
  });
}
