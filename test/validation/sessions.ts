/**
 * sessions (33): session affinity in fetchWorkItem (claim, refresh, takeover), the session lease
 * and the activity lock expiring independently, heartbeats and orphan cleanup.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { FetchedWorkItem, Provider, SessionFetchConfig, WorkItem } from "../../src/provider/types.ts";
import type { ProviderFactory } from "./factory.ts";
import {
  activityCompleted,
  activityExecute,
  expectWorkItem,
  fetchWork,
  sessionConfig,
  sleep,
} from "./helpers.ts";

/** Work lock used unless a test says otherwise. */
const WORK_LOCK_MS = 5_000;

function sessionItem(id: number, session: string, instance = "inst-1"): WorkItem {
  return activityExecute(instance, id, "SessionActivity", { sessionId: session });
}

function plainItem(id: number, instance = "inst-1"): WorkItem {
  return activityExecute(instance, id, "PlainActivity");
}

function fetchAs(provider: Provider, session: SessionFetchConfig | null, lockTimeoutMs = WORK_LOCK_MS) {
  return fetchWork(provider, { session, lockTimeoutMs });
}

async function mustFetch(
  provider: Provider,
  session: SessionFetchConfig | null,
  lockTimeoutMs = WORK_LOCK_MS,
) {
  return await expectWorkItem(provider, { session, lockTimeoutMs });
}

function activity(fetched: FetchedWorkItem | null) {
  expect(fetched).not.toBeNull();
  const item = (fetched as FetchedWorkItem).item;
  expect("ActivityExecute" in item).toBe(true);
  return (item as { ActivityExecute: { id: number; session_id?: string } }).ActivityExecute;
}

/** Enqueue a session item, fetch it as `owner` (claiming the session) and ack it right away. */
async function claim(
  provider: Provider,
  id: number,
  session: string,
  owner: SessionFetchConfig,
): Promise<void> {
  await provider.enqueueForWorker(sessionItem(id, session));
  const fetched = await mustFetch(provider, owner);
  expect(activity(fetched).session_id).toBe(session);
  await provider.ackWorkItem(fetched.lockToken, null);
}

export function registerSessionsTests(factory: ProviderFactory): void {
  describe("sessions", () => {
    afterEach(() => factory.cleanup());

    it("test_non_session_items_fetchable_by_any_worker", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(plainItem(1));
      const fetched = await fetchAs(provider, sessionConfig("worker-A"));
      expect(activity(fetched).id).toBe(1);
      expect(activity(fetched).session_id).toBeUndefined();
    });

    it("test_session_item_claimable_when_no_session", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(sessionItem(1, "session-1"));
      const fetched = await fetchAs(provider, sessionConfig("worker-A"));
      expect(activity(fetched)).toMatchObject({ id: 1, session_id: "session-1" });
    });

    it("test_session_affinity_same_worker", async () => {
      const provider = await factory.createProvider();
      await claim(provider, 1, "session-1", sessionConfig("worker-A"));
      await provider.enqueueForWorker(sessionItem(2, "session-1"));
      expect(activity(await fetchAs(provider, sessionConfig("worker-A")))).toMatchObject({
        id: 2,
        session_id: "session-1",
      });
    });

    it("test_session_affinity_blocks_other_worker", async () => {
      const provider = await factory.createProvider();
      await claim(provider, 1, "session-1", sessionConfig("worker-A"));
      await provider.enqueueForWorker(sessionItem(2, "session-1"));
      expect(await fetchAs(provider, sessionConfig("worker-B"))).toBeNull();
    });

    it("test_different_sessions_different_workers", async () => {
      const provider = await factory.createProvider();
      await claim(provider, 1, "session-1", sessionConfig("worker-A"));
      await claim(provider, 2, "session-2", sessionConfig("worker-B"));
      await provider.enqueueForWorker(sessionItem(3, "session-1"));
      await provider.enqueueForWorker(sessionItem(4, "session-2"));
      expect(activity(await fetchAs(provider, sessionConfig("worker-A")))).toMatchObject({
        id: 3,
        session_id: "session-1",
      });
      expect(activity(await fetchAs(provider, sessionConfig("worker-B")))).toMatchObject({
        id: 4,
        session_id: "session-2",
      });
    });

    it("test_mixed_session_and_non_session_items", async () => {
      const provider = await factory.createProvider();
      await claim(provider, 1, "session-1", sessionConfig("worker-A"));
      await provider.enqueueForWorker(sessionItem(2, "session-1"));
      await provider.enqueueForWorker(plainItem(3));
      const b = activity(await fetchAs(provider, sessionConfig("worker-B")));
      expect(b.id).toBe(3);
      expect(b.session_id).toBeUndefined();
    });

    it("test_session_claimable_after_lock_expiry", async () => {
      const provider = await factory.createProvider();
      await claim(provider, 1, "session-1", sessionConfig("worker-A", 50));
      await sleep(100);
      await provider.enqueueForWorker(sessionItem(2, "session-1"));
      expect(activity(await fetchAs(provider, sessionConfig("worker-B")))).toMatchObject({
        id: 2,
        session_id: "session-1",
      });
    });

    it("test_none_session_skips_session_items", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(sessionItem(1, "session-1"));
      await provider.enqueueForWorker(plainItem(2));
      expect(activity(await fetchAs(provider, null)).id).toBe(2);
      expect(await fetchAs(provider, null)).toBeNull();
      expect(activity(await fetchAs(provider, sessionConfig("worker-A")))).toMatchObject({
        id: 1,
        session_id: "session-1",
      });
    });

    it("test_some_session_returns_all_items", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(sessionItem(1, "session-1"));
      await provider.enqueueForWorker(sessionItem(2, "session-2"));
      await provider.enqueueForWorker(sessionItem(3, "session-3"));
      await provider.enqueueForWorker(plainItem(4));
      const ids = [];
      for (let i = 0; i < 4; i++) ids.push(activity(await fetchAs(provider, sessionConfig("worker-A"))).id);
      expect(ids).toEqual([1, 2, 3, 4]);
      expect(await fetchAs(provider, sessionConfig("worker-A"))).toBeNull();
    });

    it("test_renew_session_lock_active", async () => {
      const provider = await factory.createProvider();
      await claim(provider, 1, "session-1", sessionConfig("worker-A", 5_000));
      expect(await provider.renewSessionLock(["worker-A"], 30_000, 300_000)).toBe(1);
      await claim(provider, 2, "session-2", sessionConfig("worker-A", 5_000));
      expect(await provider.renewSessionLock(["worker-A"], 30_000, 300_000)).toBe(2);
    });

    it("test_renew_session_lock_skips_idle", async () => {
      const provider = await factory.createProvider();
      await claim(provider, 1, "session-1", sessionConfig("worker-A"));
      expect(await provider.renewSessionLock(["worker-A"], 30_000, 0)).toBe(0);
    });

    it("test_renew_session_lock_no_sessions", async () => {
      const provider = await factory.createProvider();
      expect(await provider.renewSessionLock(["worker-A"], 30_000, 300_000)).toBe(0);
    });

    it("test_cleanup_removes_expired_no_items", async () => {
      const provider = await factory.createProvider();
      await claim(provider, 1, "session-1", sessionConfig("worker-A", 50));
      await sleep(100);
      expect(await provider.cleanupOrphanedSessions(300_000)).toBe(1);
    });

    it("test_cleanup_keeps_sessions_with_pending_items", async () => {
      const provider = await factory.createProvider();
      await claim(provider, 1, "session-1", sessionConfig("worker-A", 50));
      await provider.enqueueForWorker(sessionItem(2, "session-1"));
      await sleep(100);
      expect(await provider.cleanupOrphanedSessions(300_000)).toBe(0);
    });

    it("test_cleanup_keeps_active_sessions", async () => {
      const provider = await factory.createProvider();
      await claim(provider, 1, "session-1", sessionConfig("worker-A", 300_000));
      expect(await provider.cleanupOrphanedSessions(300_000)).toBe(0);
    });

    it("test_ack_updates_session_last_activity", async () => {
      const provider = await factory.createProvider();
      const idleWindow = 200;
      await provider.enqueueForWorker(sessionItem(1, "session-1"));
      const fetched = await mustFetch(provider, sessionConfig("worker-A"));
      await sleep(idleWindow + 50);
      await provider.ackWorkItem(fetched.lockToken, activityCompleted("inst-1", 1, "ok"));
      expect(await provider.renewSessionLock(["worker-A"], 30_000, idleWindow)).toBe(1);
    });

    it("test_renew_work_item_updates_session_last_activity", async () => {
      const provider = await factory.createProvider();
      const idleWindow = 200;
      await provider.enqueueForWorker(sessionItem(1, "session-1"));
      const fetched = await mustFetch(provider, sessionConfig("worker-A"));
      await sleep(idleWindow + 50);
      await provider.renewWorkItemLock(fetched.lockToken, 30_000);
      expect(await provider.renewSessionLock(["worker-A"], 30_000, idleWindow)).toBe(1);
    });

    it("test_session_items_processed_in_order", async () => {
      const provider = await factory.createProvider();
      for (const id of [1, 2, 3]) await provider.enqueueForWorker(sessionItem(id, "session-1"));
      const ids = [];
      for (let i = 0; i < 3; i++) {
        const fetched = await mustFetch(provider, sessionConfig("worker-A"));
        ids.push(activity(fetched).id);
        await provider.ackWorkItem(fetched.lockToken, null);
      }
      expect(ids).toEqual([1, 2, 3]);
    });

    it("test_non_session_items_returned_with_session_config", async () => {
      const provider = await factory.createProvider();
      await claim(provider, 1, "session-1", sessionConfig("worker-A"));
      await provider.enqueueForWorker(plainItem(2));
      const fetched = activity(await fetchAs(provider, sessionConfig("worker-A")));
      expect(fetched.id).toBe(2);
      expect(fetched.session_id).toBeUndefined();
    });

    it("test_shared_worker_id_any_caller_can_fetch_owned_session", async () => {
      const provider = await factory.createProvider();
      for (const id of [1, 2, 3]) await provider.enqueueForWorker(sessionItem(id, "shared-sess"));
      // Two slots of one process share the owner id: both may serve the session.
      expect(activity(await fetchAs(provider, sessionConfig("process-1"))).id).toBe(1);
      expect(activity(await fetchAs(provider, sessionConfig("process-1"))).id).toBe(2);
      expect(await fetchAs(provider, sessionConfig("process-2"))).toBeNull();
    });

    it("test_concurrent_session_claim_only_one_wins", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(sessionItem(1, "contested-sess"));
      await provider.enqueueForWorker(sessionItem(2, "contested-sess"));
      const a = await fetchAs(provider, sessionConfig("worker-A"));
      expect(a).not.toBeNull();
      expect(await fetchAs(provider, sessionConfig("worker-B"))).toBeNull();
      await provider.ackWorkItem((a as FetchedWorkItem).lockToken, null);
    });

    it("test_session_takeover_after_lock_expiry", async () => {
      const provider = await factory.createProvider();
      await claim(provider, 1, "takeover-sess", sessionConfig("worker-A", 50));
      await sleep(100);
      await provider.enqueueForWorker(sessionItem(2, "takeover-sess"));
      expect(activity(await fetchAs(provider, sessionConfig("worker-B")))).toMatchObject({
        id: 2,
        session_id: "takeover-sess",
      });
    });

    it("test_cleanup_then_new_item_recreates_session", async () => {
      const provider = await factory.createProvider();
      await claim(provider, 1, "recreate-sess", sessionConfig("worker-A", 50));
      await sleep(100);
      expect(await provider.cleanupOrphanedSessions(300_000)).toBe(1);
      await provider.enqueueForWorker(sessionItem(2, "recreate-sess"));
      expect(activity(await fetchAs(provider, sessionConfig("worker-B")))).toMatchObject({
        id: 2,
        session_id: "recreate-sess",
      });
    });

    it("test_abandoned_session_item_retryable", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(sessionItem(1, "session-1"));
      const first = await mustFetch(provider, sessionConfig("worker-A"));
      expect(first.attemptCount).toBe(1);
      await provider.abandonWorkItem(first.lockToken, null, false);
      const second = await mustFetch(provider, sessionConfig("worker-A"));
      expect(activity(second).id).toBe(1);
      expect(second.attemptCount).toBe(2);
      await provider.ackWorkItem(second.lockToken, null);
      expect(await fetchAs(provider, sessionConfig("worker-A"))).toBeNull();
    });

    it("test_abandoned_session_item_ignore_attempt", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(sessionItem(1, "session-1"));
      const first = await mustFetch(provider, sessionConfig("worker-A"));
      expect(first.attemptCount).toBe(1);
      await provider.abandonWorkItem(first.lockToken, 1, true);
      await sleep(10);
      const second = await mustFetch(provider, sessionConfig("worker-A"));
      expect(activity(second).id).toBe(1);
      expect(second.attemptCount).toBe(1);
    });

    it("test_renew_session_lock_after_expiry_returns_zero", async () => {
      const provider = await factory.createProvider();
      await claim(provider, 1, "session-1", sessionConfig("worker-A", 50));
      await sleep(100);
      expect(await provider.renewSessionLock(["worker-A"], 30_000, 300_000)).toBe(0);
    });

    it("test_original_worker_reclaims_expired_session", async () => {
      const provider = await factory.createProvider();
      await claim(provider, 1, "session-1", sessionConfig("worker-A", 50));
      await sleep(100);
      await provider.enqueueForWorker(sessionItem(2, "session-1"));
      expect(activity(await fetchAs(provider, sessionConfig("worker-A")))).toMatchObject({
        id: 2,
        session_id: "session-1",
      });
      // A owns it again: B is kept out.
      await provider.enqueueForWorker(sessionItem(3, "session-1"));
      expect(await fetchAs(provider, sessionConfig("worker-B"))).toBeNull();
    });

    it("test_activity_lock_expires_session_lock_valid_same_worker_refetches", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(sessionItem(1, "session-1"));
      const first = await mustFetch(provider, sessionConfig("worker-A", 30_000), 500);
      expect(first.attemptCount).toBe(1);
      await sleep(600);
      expect(await fetchAs(provider, sessionConfig("worker-B"))).toBeNull();
      const again = await mustFetch(provider, sessionConfig("worker-A"));
      expect(activity(again).id).toBe(1);
      expect(again.attemptCount).toBe(2);
    });

    it("test_session_lock_expires_new_owner_gets_redelivery", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(sessionItem(1, "session-1"));
      const held = await mustFetch(provider, sessionConfig("worker-A", 200), 5_000);
      await sleep(300);
      await provider.enqueueForWorker(sessionItem(2, "session-1"));
      const b = await mustFetch(provider, sessionConfig("worker-B"));
      expect(activity(b).id).toBe(2);
      await provider.abandonWorkItem(held.lockToken, null, false);
      const redelivered = await mustFetch(provider, sessionConfig("worker-B"));
      expect(activity(redelivered).id).toBe(1);
      expect(redelivered.attemptCount).toBe(2);
    });

    it("test_session_lock_expires_same_worker_reacquires", async () => {
      const provider = await factory.createProvider();
      await claim(provider, 1, "session-1", sessionConfig("worker-A", 200));
      await sleep(300);
      await provider.enqueueForWorker(sessionItem(2, "session-1"));
      expect(activity(await fetchAs(provider, sessionConfig("worker-A")))).toMatchObject({
        id: 2,
        session_id: "session-1",
      });
    });

    it("test_both_locks_expire_different_worker_claims", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(sessionItem(1, "session-1"));
      await mustFetch(provider, sessionConfig("worker-A", 200), 200);
      await sleep(400);
      const b = await mustFetch(provider, sessionConfig("worker-B"));
      expect(activity(b).id).toBe(1);
      expect(b.attemptCount).toBe(2);
    });

    it("test_session_lock_expires_activity_lock_valid_ack_succeeds", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(sessionItem(1, "session-1"));
      const held = await mustFetch(provider, sessionConfig("worker-A", 200), 30_000);
      await sleep(300);
      await provider.ackWorkItem(held.lockToken, activityCompleted("inst-1", 1, "ok"));
      expect(await fetchAs(provider, sessionConfig("worker-A"))).toBeNull();
    });

    it("test_session_lock_renewal_extends_past_original_timeout", async () => {
      const provider = await factory.createProvider();
      await claim(provider, 1, "session-1", sessionConfig("worker-A", 1_000));
      await sleep(600);
      expect(await provider.renewSessionLock(["worker-A"], 1_000, 300_000)).toBe(1);
      await sleep(400);
      await provider.enqueueForWorker(sessionItem(2, "session-1"));
      expect(await fetchAs(provider, sessionConfig("worker-B"))).toBeNull();
      expect(activity(await fetchAs(provider, sessionConfig("worker-A")))).toMatchObject({
        id: 2,
        session_id: "session-1",
      });
    });
  });
}
