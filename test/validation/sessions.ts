/**
 * sessions (33): session affinity inside fetchWorkItem — claiming, refreshing and taking over a
 * session, ownership outliving the claiming item, the session lease and the activity lock expiring
 * independently, heartbeats (renewSessionLock with its idle window, piggybacked on ack and renew)
 * and cleanup of orphaned sessions.
 *
 * Work locks are 5 s and session leases 30 s unless a test says otherwise.
 */

import type { ProviderFactory } from "pg-durable";
import { afterEach, describe, expect, it } from "vitest";
import { activityCompleted, elapse, sessionConfig } from "./helpers.ts";
import {
  activityOf,
  claimSession,
  fetchWorkAs,
  plainActivity,
  present,
  sessionActivity,
} from "./helpers-routing.ts";

export function registerSessionsTests(factory: ProviderFactory): void {
  describe("sessions", () => {
    afterEach(() => factory.cleanup());

    // -- basic routing ---------------------------------------------------------------------------

    it("test_non_session_items_fetchable_by_any_worker", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(plainActivity("inst-1", 1));
      expect(
        await fetchWorkAs(provider, sessionConfig("worker-A")),
        "a non-session item is fetchable by any worker",
      ).not.toBeNull();
    });

    it("test_session_item_claimable_when_no_session", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(sessionActivity("inst-1", 1, "session-1"));
      const fetched = await fetchWorkAs(provider, sessionConfig("worker-A"));
      expect(activityOf(fetched).session_id).toBe("session-1");
    });

    it("test_session_affinity_same_worker", async () => {
      const provider = await factory.createProvider();
      await claimSession(provider, sessionActivity("inst-1", 1, "session-1"), sessionConfig("worker-A"));
      await provider.enqueueForWorker(sessionActivity("inst-1", 2, "session-1"));
      expect(
        await fetchWorkAs(provider, sessionConfig("worker-A")),
        "the owner fetches its session's next item",
      ).not.toBeNull();
    });

    it("test_session_affinity_blocks_other_worker", async () => {
      const provider = await factory.createProvider();
      await claimSession(provider, sessionActivity("inst-1", 1, "session-1"), sessionConfig("worker-A"));
      await provider.enqueueForWorker(sessionActivity("inst-1", 2, "session-1"));
      expect(
        await fetchWorkAs(provider, sessionConfig("worker-B")),
        "another worker must not fetch an owned session's item",
      ).toBeNull();
    });

    it("test_different_sessions_different_workers", async () => {
      const provider = await factory.createProvider();
      await claimSession(provider, sessionActivity("inst-1", 1, "session-1"), sessionConfig("worker-A"));
      await claimSession(provider, sessionActivity("inst-2", 1, "session-2"), sessionConfig("worker-B"));
      await provider.enqueueForWorker(sessionActivity("inst-1", 2, "session-1"));
      await provider.enqueueForWorker(sessionActivity("inst-2", 2, "session-2"));

      expect(activityOf(await fetchWorkAs(provider, sessionConfig("worker-A"))).session_id).toBe("session-1");
      expect(activityOf(await fetchWorkAs(provider, sessionConfig("worker-B"))).session_id).toBe("session-2");
    });

    it("test_mixed_session_and_non_session_items", async () => {
      const provider = await factory.createProvider();
      await claimSession(provider, sessionActivity("inst-1", 1, "session-1"), sessionConfig("worker-A"));
      await provider.enqueueForWorker(sessionActivity("inst-1", 2, "session-1"));
      await provider.enqueueForWorker(plainActivity("inst-2", 1));

      const forB = activityOf(await fetchWorkAs(provider, sessionConfig("worker-B")));
      expect(forB.session_id, "worker-B gets the plain item, not session-1's").toBeUndefined();
    });

    // -- lease expiry and session = null ------------------------------------------------------------

    it("test_session_claimable_after_lock_expiry", async () => {
      const provider = await factory.createProvider();
      await claimSession(provider, sessionActivity("inst-1", 1, "session-1"), sessionConfig("worker-A", 50));
      await elapse(factory, 100);
      await provider.enqueueForWorker(sessionActivity("inst-1", 2, "session-1"));
      expect(
        await fetchWorkAs(provider, sessionConfig("worker-B")),
        "worker-B claims the session whose lease expired",
      ).not.toBeNull();
    });

    it("test_none_session_skips_session_items", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(sessionActivity("inst-1", 1, "session-1"));
      await provider.enqueueForWorker(plainActivity("inst-2", 2));

      const plain = present(await fetchWorkAs(provider, null), "the plain item");
      expect(activityOf(plain)).toMatchObject({ id: 2 });
      expect(activityOf(plain).session_id).toBeUndefined();
      await provider.ackWorkItem(plain.lockToken, null);

      expect(await fetchWorkAs(provider, null), "session items are invisible to a null session").toBeNull();

      const withConfig = await fetchWorkAs(provider, sessionConfig("worker-A"));
      expect(activityOf(withConfig).session_id).toBe("session-1");
    });

    it("test_some_session_returns_all_items", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(sessionActivity("inst-1", 1, "sess-A"));
      await provider.enqueueForWorker(sessionActivity("inst-2", 2, "sess-B"));
      await provider.enqueueForWorker(sessionActivity("inst-3", 3, "sess-C"));
      await provider.enqueueForWorker(plainActivity("inst-4", 4));

      // The provider has no session capacity limit: one owner claims them all, in FIFO order.
      const ids: number[] = [];
      for (let i = 0; i < 4; i++) {
        const fetched = present(await fetchWorkAs(provider, sessionConfig("shared-proc")), `item ${i + 1}`);
        ids.push(activityOf(fetched).id);
        await provider.ackWorkItem(fetched.lockToken, null);
      }
      expect(ids).toEqual([1, 2, 3, 4]);
      expect(await fetchWorkAs(provider, sessionConfig("shared-proc"))).toBeNull();
    });

    // -- renewal ------------------------------------------------------------------------------------

    it("test_renew_session_lock_active", async () => {
      const provider = await factory.createProvider();
      await claimSession(
        provider,
        sessionActivity("inst-1", 1, "session-1"),
        sessionConfig("worker-A", 5_000),
      );
      expect(await provider.renewSessionLock(["worker-A"], 30_000, 300_000)).toBe(1);

      await claimSession(provider, sessionActivity("inst-2", 1, "session-2"), sessionConfig("worker-A"));
      expect(await provider.renewSessionLock(["worker-A"], 30_000, 300_000)).toBe(2);
    });

    it("test_renew_session_lock_skips_idle", async () => {
      const provider = await factory.createProvider();
      await claimSession(provider, sessionActivity("inst-1", 1, "session-1"), sessionConfig("worker-A"));
      expect(
        await provider.renewSessionLock(["worker-A"], 30_000, 0),
        "with a zero idle window every session is idle",
      ).toBe(0);
    });

    it("test_renew_session_lock_no_sessions", async () => {
      const provider = await factory.createProvider();
      expect(await provider.renewSessionLock(["worker-A"], 30_000, 300_000)).toBe(0);
    });

    // -- cleanup ------------------------------------------------------------------------------------

    it("test_cleanup_removes_expired_no_items", async () => {
      const provider = await factory.createProvider();
      await claimSession(provider, sessionActivity("inst-1", 1, "session-1"), sessionConfig("worker-A", 50));
      await elapse(factory, 100);
      expect(await provider.cleanupOrphanedSessions(300_000)).toBe(1);
    });

    it("test_cleanup_keeps_sessions_with_pending_items", async () => {
      const provider = await factory.createProvider();
      await claimSession(provider, sessionActivity("inst-1", 1, "session-1"), sessionConfig("worker-A", 50));
      await provider.enqueueForWorker(sessionActivity("inst-1", 2, "session-1"));
      await elapse(factory, 100);
      expect(
        await provider.cleanupOrphanedSessions(300_000),
        "an expired session with a queued item is kept",
      ).toBe(0);
    });

    it("test_cleanup_keeps_active_sessions", async () => {
      const provider = await factory.createProvider();
      await claimSession(
        provider,
        sessionActivity("inst-1", 1, "session-1"),
        sessionConfig("worker-A", 300_000),
      );
      expect(await provider.cleanupOrphanedSessions(300_000)).toBe(0);
    });

    // -- heartbeat piggybacking -----------------------------------------------------------------------

    it("test_ack_updates_session_last_activity", async () => {
      const provider = await factory.createProvider();
      // Long enough that the two calls after the sleep fit inside it on a loaded machine.
      const idleWindowMs = 1_000;
      await provider.enqueueForWorker(sessionActivity("inst-1", 1, "session-1"));
      const fetched = present(await fetchWorkAs(provider, sessionConfig("worker-A")), "the session item");

      // Let the fetch's activity timestamp go stale, then ack: only the ack can make it fresh again.
      await elapse(factory, idleWindowMs + 50);
      await provider.ackWorkItem(fetched.lockToken, activityCompleted("inst-1", 1, "ok"));

      expect(
        await provider.renewSessionLock(["worker-A"], 30_000, idleWindowMs),
        "the ack must have refreshed the session's last activity",
      ).toBe(1);
    });

    it("test_renew_work_item_updates_session_last_activity", async () => {
      const provider = await factory.createProvider();
      // Long enough that the two calls after the sleep fit inside it on a loaded machine.
      const idleWindowMs = 1_000;
      await provider.enqueueForWorker(sessionActivity("inst-1", 1, "session-1"));
      const fetched = present(await fetchWorkAs(provider, sessionConfig("worker-A")), "the session item");

      await elapse(factory, idleWindowMs + 50);
      await provider.renewWorkItemLock(fetched.lockToken, 30_000);

      expect(
        await provider.renewSessionLock(["worker-A"], 30_000, idleWindowMs),
        "the work item renewal must have refreshed the session's last activity",
      ).toBe(1);
    });

    // -- edge cases ---------------------------------------------------------------------------------

    it("test_session_items_processed_in_order", async () => {
      const provider = await factory.createProvider();
      for (const id of [1, 2, 3]) await provider.enqueueForWorker(sessionActivity("inst-1", id, "session-1"));
      for (const expectedId of [1, 2, 3]) {
        const fetched = present(await fetchWorkAs(provider, sessionConfig("worker-A")), `item ${expectedId}`);
        expect(activityOf(fetched).id, "session items come in FIFO order").toBe(expectedId);
        await provider.ackWorkItem(fetched.lockToken, null);
      }
    });

    it("test_non_session_items_returned_with_session_config", async () => {
      const provider = await factory.createProvider();
      await claimSession(provider, sessionActivity("inst-1", 1, "session-1"), sessionConfig("worker-A"));
      await provider.enqueueForWorker(plainActivity("inst-2", 1));
      const fetched = await fetchWorkAs(provider, sessionConfig("worker-A"));
      expect(activityOf(fetched).session_id, "the plain item is returned").toBeUndefined();
    });

    it("test_shared_worker_id_any_caller_can_fetch_owned_session", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(sessionActivity("inst-1", 1, "shared-sess"));
      await provider.enqueueForWorker(sessionActivity("inst-1", 2, "shared-sess"));

      // Two slots of one process share the owner id "process-1": either may serve the session.
      const first = present(await fetchWorkAs(provider, sessionConfig("process-1")), "item 1");
      expect(activityOf(first).id).toBe(1);
      await provider.ackWorkItem(first.lockToken, null);
      const second = present(await fetchWorkAs(provider, sessionConfig("process-1")), "item 2");
      expect(activityOf(second).id).toBe(2);
      await provider.ackWorkItem(second.lockToken, null);

      await provider.enqueueForWorker(sessionActivity("inst-1", 3, "shared-sess"));
      expect(
        await fetchWorkAs(provider, sessionConfig("process-2")),
        "another process must not get the owned session's item",
      ).toBeNull();
    });

    // -- races and redelivery -------------------------------------------------------------------------

    it("test_concurrent_session_claim_only_one_wins", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(sessionActivity("inst-1", 1, "contested-sess"));
      await provider.enqueueForWorker(sessionActivity("inst-1", 2, "contested-sess"));

      const a = present(await fetchWorkAs(provider, sessionConfig("worker-A")), "worker-A's claim");
      expect(
        await fetchWorkAs(provider, sessionConfig("worker-B")),
        "worker-B must not get the session's second item while A holds the session",
      ).toBeNull();
      await provider.ackWorkItem(a.lockToken, null);
    });

    it("test_session_takeover_after_lock_expiry", async () => {
      const provider = await factory.createProvider();
      await claimSession(
        provider,
        sessionActivity("inst-1", 1, "takeover-sess"),
        sessionConfig("worker-A", 50),
      );
      await provider.enqueueForWorker(sessionActivity("inst-1", 2, "takeover-sess"));
      await elapse(factory, 100);

      const taken = await fetchWorkAs(provider, sessionConfig("worker-B"));
      expect(activityOf(taken).session_id, "worker-B takes the session over").toBe("takeover-sess");
    });

    it("test_cleanup_then_new_item_recreates_session", async () => {
      const provider = await factory.createProvider();
      await claimSession(
        provider,
        sessionActivity("inst-1", 1, "ephemeral-sess"),
        sessionConfig("worker-A", 50),
      );
      await elapse(factory, 100);
      expect(await provider.cleanupOrphanedSessions(300_000)).toBe(1);

      await provider.enqueueForWorker(sessionActivity("inst-1", 2, "ephemeral-sess"));
      const recreated = await fetchWorkAs(provider, sessionConfig("worker-B"));
      expect(activityOf(recreated)).toMatchObject({ id: 2, session_id: "ephemeral-sess" });
    });

    it("test_abandoned_session_item_retryable", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(sessionActivity("inst-1", 1, "retry-sess"));

      const first = present(await fetchWorkAs(provider, sessionConfig("worker-A")), "the first delivery");
      expect(first.attemptCount).toBe(1);
      expect(activityOf(first).id).toBe(1);
      await provider.abandonWorkItem(first.lockToken, null, false);

      const retry = present(await fetchWorkAs(provider, sessionConfig("worker-A")), "the redelivery");
      expect(retry.attemptCount, "a retry increments the attempt count").toBe(2);
      expect(activityOf(retry).id).toBe(1);
      await provider.ackWorkItem(retry.lockToken, null);

      expect(
        await fetchWorkAs(provider, sessionConfig("worker-A")),
        "nothing remains after the ack",
      ).toBeNull();
    });

    it("test_abandoned_session_item_ignore_attempt", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(sessionActivity("inst-1", 1, "ignore-sess"));

      const first = present(await fetchWorkAs(provider, sessionConfig("worker-A")), "the first delivery");
      expect(first.attemptCount).toBe(1);
      await provider.abandonWorkItem(first.lockToken, 1, true);
      await elapse(factory, 10);

      const again = present(await fetchWorkAs(provider, sessionConfig("worker-A")), "the redelivery");
      expect(again.attemptCount, "an ignored attempt does not count").toBe(1);
      await provider.ackWorkItem(again.lockToken, null);
    });

    it("test_renew_session_lock_after_expiry_returns_zero", async () => {
      const provider = await factory.createProvider();
      await claimSession(
        provider,
        sessionActivity("inst-1", 1, "expired-sess"),
        sessionConfig("worker-A", 50),
      );
      await elapse(factory, 100);
      expect(
        await provider.renewSessionLock(["worker-A"], 30_000, 300_000),
        "an expired session is not revived",
      ).toBe(0);
    });

    it("test_original_worker_reclaims_expired_session", async () => {
      const provider = await factory.createProvider();
      await claimSession(
        provider,
        sessionActivity("inst-1", 1, "reclaim-sess"),
        sessionConfig("worker-A", 50),
      );
      await provider.enqueueForWorker(sessionActivity("inst-1", 2, "reclaim-sess"));
      await elapse(factory, 100);

      const reclaimed = await fetchWorkAs(provider, sessionConfig("worker-A"));
      expect(activityOf(reclaimed)).toMatchObject({ id: 2, session_id: "reclaim-sess" });
    });

    // -- the two leases expire independently ------------------------------------------------------

    it("test_activity_lock_expires_session_lock_valid_same_worker_refetches", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(sessionActivity("inst-1", 1, "sticky-sess"));
      const shortWorkLockMs = 500;
      // 500 ms work lock, 30 s session lease; never acked.
      present(
        await fetchWorkAs(provider, sessionConfig("worker-A"), shortWorkLockMs),
        "worker-A's first delivery",
      );
      await elapse(factory, shortWorkLockMs + 100);

      expect(
        await fetchWorkAs(provider, sessionConfig("worker-B")),
        "the session is still worker-A's: B gets nothing",
      ).toBeNull();

      const redelivered = present(await fetchWorkAs(provider, sessionConfig("worker-A")), "A's redelivery");
      expect(activityOf(redelivered).id).toBe(1);
      expect(redelivered.attemptCount).toBe(2);
      await provider.ackWorkItem(redelivered.lockToken, null);
    });

    it("test_session_lock_expires_new_owner_gets_redelivery", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(sessionActivity("inst-1", 1, "takeover2-sess"));
      const shortSessionMs = 200;
      // 5 s work lock, 200 ms session lease.
      const held = present(
        await fetchWorkAs(provider, sessionConfig("worker-A", shortSessionMs), 5_000),
        "worker-A's delivery",
      );
      await elapse(factory, shortSessionMs + 100);

      await provider.enqueueForWorker(sessionActivity("inst-1", 2, "takeover2-sess"));
      const ownerB = sessionConfig("worker-B");
      const newItem = present(await fetchWorkAs(provider, ownerB), "worker-B's claim of the expired session");
      expect(activityOf(newItem)).toMatchObject({ id: 2, session_id: "takeover2-sess" });
      await provider.ackWorkItem(newItem.lockToken, null);

      // Worker-A gives its in-flight item up; the session's new owner receives it.
      await provider.abandonWorkItem(held.lockToken, null, false);
      const redelivered = present(await fetchWorkAs(provider, ownerB), "the redelivery to worker-B");
      expect(activityOf(redelivered).id).toBe(1);
      expect(redelivered.attemptCount).toBe(2);
      await provider.ackWorkItem(redelivered.lockToken, null);
    });

    it("test_session_lock_expires_same_worker_reacquires", async () => {
      const provider = await factory.createProvider();
      const ownerA = sessionConfig("worker-A", 200);
      await claimSession(provider, sessionActivity("inst-1", 1, "reacq-sess"), ownerA);
      await elapse(factory, 300);

      await provider.enqueueForWorker(sessionActivity("inst-1", 2, "reacq-sess"));
      const again = present(await fetchWorkAs(provider, ownerA), "worker-A's re-acquisition");
      expect(activityOf(again)).toMatchObject({ id: 2, session_id: "reacq-sess" });
      await provider.ackWorkItem(again.lockToken, null);
    });

    it("test_both_locks_expire_different_worker_claims", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(sessionActivity("inst-1", 1, "both-expire-sess"));
      const shortMs = 200;
      // 200 ms work lock and 200 ms session lease; never acked.
      present(await fetchWorkAs(provider, sessionConfig("worker-A", shortMs), shortMs), "A's delivery");
      await elapse(factory, shortMs + 200);

      const claimed = present(await fetchWorkAs(provider, sessionConfig("worker-B")), "B's claim");
      expect(activityOf(claimed)).toMatchObject({ id: 1, session_id: "both-expire-sess" });
      expect(claimed.attemptCount).toBe(2);
      await provider.ackWorkItem(claimed.lockToken, null);
    });

    it("test_session_lock_expires_activity_lock_valid_ack_succeeds", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(sessionActivity("inst-1", 1, "sess-expires"));
      // 30 s work lock, 200 ms session lease.
      const held = present(
        await fetchWorkAs(provider, sessionConfig("worker-A", 200), 30_000),
        "worker-A's delivery",
      );
      await elapse(factory, 300);

      // Resolves (does not throw): the activity lock governs the ack, not the session lease.
      await expect(
        provider.ackWorkItem(held.lockToken, activityCompleted("inst-1", 1, "done")),
      ).resolves.toBeUndefined();
    });

    it("test_session_lock_renewal_extends_past_original_timeout", async () => {
      const provider = await factory.createProvider();
      const leaseMs = 1_000;
      await claimSession(
        provider,
        sessionActivity("inst-1", 1, "renew-ext-sess"),
        sessionConfig("worker-A", leaseMs),
      );

      // At ~0.6 s renew for another second (to ~1.6 s).
      await elapse(factory, 600);
      expect(await provider.renewSessionLock(["worker-A"], leaseMs, 300_000)).toBe(1);

      // At ~1.0 s, past the original expiry, A still owns the session.
      await elapse(factory, 400);
      await provider.enqueueForWorker(sessionActivity("inst-1", 2, "renew-ext-sess"));
      expect(
        await fetchWorkAs(provider, sessionConfig("worker-B")),
        "the renewed session still belongs to worker-A",
      ).toBeNull();
      expect(
        await fetchWorkAs(provider, sessionConfig("worker-A")),
        "worker-A still owns the session",
      ).not.toBeNull();
    });
  });
}
