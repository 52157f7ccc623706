/**
 * lock_expiration: orchestration and worker locks expire, can be released early (abandon, ack) or
 * extended (renew), and a token is worthless once its lock has lapsed or its row is gone.
 */

import type { ProviderFactory } from "pg-durable";
import { afterEach, describe, expect, it } from "vitest";
import {
  ack,
  activityCompleted,
  activityExecute,
  elapse,
  expectFailure,
  expectNoOrchestrationItem,
  expectNoWorkItem,
  expectOrchestrationItem,
  expectWorkItem,
  fetchOrchestration,
  HOLD_LOCK_MS,
  payloadOf,
  sleep,
  startedEvent,
  startItem,
  storeNow,
  workItemKind,
} from "./helpers.ts";

/** Let store time pass until `ms` after `since` (a storeNow() value); at once if that moment has passed. */
async function elapseUntil(factory: ProviderFactory, since: number, ms: number): Promise<void> {
  const remaining = since + ms - storeNow(factory);
  if (remaining > 0) await elapse(factory, remaining);
}

export function registerLockExpirationTests(factory: ProviderFactory): void {
  describe("lock_expiration", () => {
    afterEach(() => factory.cleanup());

    it("test_lock_expires_after_timeout", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      await provider.enqueueForOrchestrator(startItem("instance-A"), null);

      const first = await expectOrchestrationItem(provider, { lockTimeoutMs });
      await expectNoOrchestrationItem(provider, { lockTimeoutMs });

      await elapse(factory, lockTimeoutMs + 100);
      const second = await expectOrchestrationItem(provider, { lockTimeoutMs });
      expect(second.item.instance).toBe("instance-A");
      expect(second.lockToken, "a new fetch issues a new token").not.toBe(first.lockToken);

      await expectFailure(ack(provider, first.lockToken), "ack with the superseded token");
    });

    it("test_abandon_releases_lock_immediately", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      await provider.enqueueForOrchestrator(startItem("instance-A"), null);

      const first = await expectOrchestrationItem(provider, { lockTimeoutMs });
      await expectNoOrchestrationItem(provider, { lockTimeoutMs });

      await provider.abandonOrchestrationItem(first.lockToken, null, false);
      const second = await expectOrchestrationItem(provider, { lockTimeoutMs });
      expect(second.item.instance).toBe("instance-A");
    });

    it("test_lock_renewal_on_ack", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      await provider.enqueueForOrchestrator(startItem("instance-A"), null);

      const first = await expectOrchestrationItem(provider, { lockTimeoutMs });
      await expectNoOrchestrationItem(provider, { lockTimeoutMs });

      await provider.enqueueForOrchestrator(startItem("instance-A"), null);
      await expectNoOrchestrationItem(provider, { lockTimeoutMs });

      await ack(provider, first.lockToken, { events: [startedEvent("instance-A", 1)] });
      const second = await expectOrchestrationItem(provider, { lockTimeoutMs });
      expect(second.item.instance, "the ack released the lock at once").toBe("instance-A");
    });

    it("test_concurrent_lock_attempts_respect_expiration", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      await provider.enqueueForOrchestrator(startItem("instance-A"), null);

      await expectOrchestrationItem(provider, { lockTimeoutMs });
      const lockedAt = storeNow(factory);

      const attempts = await Promise.all(
        Array.from({ length: 5 }, async (_, i) => {
          await sleep(i * 50);
          return fetchOrchestration(provider, { lockTimeoutMs });
        }),
      );
      for (const attempt of attempts) expect(attempt, "the lock is still held").toBeNull();

      await elapseUntil(factory, lockedAt, lockTimeoutMs + 100);
      const after = await expectOrchestrationItem(provider, { lockTimeoutMs });
      expect(after.item.instance).toBe("instance-A");
    });

    it("test_worker_lock_renewal_success", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      await provider.enqueueForWorker(activityExecute("test-instance", 1, "TestActivity", { input: "test" }));

      const fetched = await expectWorkItem(provider, { lockTimeoutMs });
      await expectNoWorkItem(provider, { lockTimeoutMs });

      await elapse(factory, 100);
      await provider.renewWorkItemLock(fetched.lockToken, lockTimeoutMs);
      await expectNoWorkItem(provider, { lockTimeoutMs });
    });

    it("test_worker_lock_renewal_invalid_token", async () => {
      const provider = await factory.createProvider();
      await expectFailure(
        provider.renewWorkItemLock("invalid-token-123", HOLD_LOCK_MS),
        "renewal of an unknown token",
      );
    });

    it("test_worker_lock_renewal_after_expiration", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(activityExecute("test-instance", 1, "TestActivity", { input: "test" }));

      const shortLockMs = 1000;
      const fetched = await expectWorkItem(provider, { lockTimeoutMs: shortLockMs });
      await elapse(factory, Math.max(shortLockMs, factory.lockTimeoutMs) + 100);

      await expectFailure(
        provider.renewWorkItemLock(fetched.lockToken, factory.lockTimeoutMs),
        "renewal of an expired lock",
      );
    });

    it("test_worker_lock_renewal_extends_timeout", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      const instance = "test-lock-renewal-extends";

      await provider.enqueueForOrchestrator(startItem(instance), null);
      const turn = await expectOrchestrationItem(provider);
      await ack(provider, turn.lockToken, {
        events: [startedEvent(instance, 1)],
        workerItems: [activityExecute(instance, 1, "TestActivity", { input: "test" })],
        metadata: { orchestrationName: "TestOrch", status: "Running" },
      });

      const fetched = await expectWorkItem(provider, { lockTimeoutMs });
      const fetchedAt = storeNow(factory);

      // Renew at 0.6 T for T: the lock now runs to ~1.6 T, so at 1.0 T it must still be held.
      await elapseUntil(factory, fetchedAt, lockTimeoutMs * 0.6);
      await provider.renewWorkItemLock(fetched.lockToken, lockTimeoutMs);
      await elapseUntil(factory, fetchedAt, lockTimeoutMs);

      await expectNoWorkItem(provider, { lockTimeoutMs });
    });

    it("test_worker_lock_renewal_after_ack", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      await provider.enqueueForWorker(activityExecute("test-instance", 1, "TestActivity", { input: "test" }));

      const fetched = await expectWorkItem(provider, { lockTimeoutMs });
      await provider.ackWorkItem(fetched.lockToken, activityCompleted("test-instance", 1, "done"));

      await expectFailure(provider.renewWorkItemLock(fetched.lockToken, lockTimeoutMs), "renewal after ack");
    });

    it("test_abandon_work_item_releases_lock", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      await provider.enqueueForWorker(
        activityExecute("test-abandon-work", 1, "TestActivity", { input: "test" }),
      );

      const first = await expectWorkItem(provider, { lockTimeoutMs });
      expect(workItemKind(first.item)).toBe("ActivityExecute");
      await expectNoWorkItem(provider, { lockTimeoutMs });

      await provider.abandonWorkItem(first.lockToken, null, false);
      const second = await expectWorkItem(provider, { lockTimeoutMs });
      expect(workItemKind(second.item)).toBe("ActivityExecute");
      expect(second.lockToken, "a refetch issues a new token").not.toBe(first.lockToken);

      await provider.ackWorkItem(second.lockToken, activityCompleted("test-abandon-work", 1, "done"));
    });

    it("test_abandon_work_item_with_delay", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      await provider.enqueueForWorker(
        activityExecute("test-abandon-delay", 1, "TestActivity", { input: "test" }),
      );

      const first = await expectWorkItem(provider, { lockTimeoutMs });
      await provider.abandonWorkItem(first.lockToken, 500, false);
      await expectNoWorkItem(provider, { lockTimeoutMs });

      await elapse(factory, 600);
      const second = await expectWorkItem(provider, { lockTimeoutMs });
      expect(workItemKind(second.item)).toBe("ActivityExecute");
      await provider.ackWorkItem(second.lockToken, activityCompleted("test-abandon-delay", 1, "done"));
    });

    it("test_worker_ack_fails_after_lock_expiry", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(
        activityExecute("ack-expiry-test", 1, "TestActivity", { input: "test" }),
      );

      const fetched = await expectWorkItem(provider, { lockTimeoutMs: 1000 });
      await elapse(factory, 1200);

      await expectFailure(
        provider.ackWorkItem(fetched.lockToken, activityCompleted("ack-expiry-test", 1, "done")),
        "ack after the worker lock expired",
      );
      const again = await expectWorkItem(provider, { lockTimeoutMs: 5000 });
      expect(payloadOf(again.item, "ActivityExecute").instance, "the rejected ack left the item queued").toBe(
        "ack-expiry-test",
      );
    });

    it("test_orchestration_lock_renewal_after_expiration", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      await provider.enqueueForOrchestrator(startItem("orch-renewal-expiry"), null);

      const fetched = await expectOrchestrationItem(provider, { lockTimeoutMs });
      await elapse(factory, lockTimeoutMs + 100);

      await expectFailure(
        provider.renewOrchestrationItemLock(fetched.lockToken, lockTimeoutMs),
        "renewal of an expired orchestration lock",
      );
    });
  });
}
