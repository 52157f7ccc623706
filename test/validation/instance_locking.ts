/**
 * instance_locking: one dispatcher at a time per instance; a batch is exactly the messages tagged at
 * fetch time; locks on one instance never block another; concurrent fetchers never share an instance.
 */

import type { FetchedOrchestrationItem, ProviderFactory } from "pg-durable";
import { afterEach, describe, expect, it } from "vitest";
import {
  ack,
  activityCompleted,
  completionIds,
  createInstance,
  elapse,
  expectFailure,
  expectNoOrchestrationItem,
  expectOrchestrationItem,
  fetchOrchestration,
  isRetryable,
  payloadOf,
  sleep,
  startItem,
  testMetadata,
} from "./helpers.ts";

export function registerInstanceLockingTests(factory: ProviderFactory): void {
  describe("instance_locking", () => {
    afterEach(() => factory.cleanup());

    it("test_exclusive_instance_lock", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      await provider.enqueueForOrchestrator(startItem("instance-A"), null);

      const first = await expectOrchestrationItem(provider, { lockTimeoutMs });
      await expectNoOrchestrationItem(provider, { lockTimeoutMs });

      await elapse(factory, lockTimeoutMs + 100);
      const second = await expectOrchestrationItem(provider, { lockTimeoutMs });
      expect(second.lockToken).not.toBe(first.lockToken);
    });

    it("test_lock_token_uniqueness", async () => {
      const provider = await factory.createProvider();
      for (let i = 0; i < 5; i++) await provider.enqueueForOrchestrator(startItem(`inst-${i}`), null);

      const tokens: string[] = [];
      for (let i = 0; i < 5; i++) tokens.push((await expectOrchestrationItem(provider)).lockToken);
      expect(new Set(tokens).size, "every fetch must issue a distinct token").toBe(5);
    });

    it("test_invalid_lock_token_rejection", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForOrchestrator(startItem("instance-A"), null);
      await expectOrchestrationItem(provider);

      await expectFailure(ack(provider, "invalid-token"), "ack with an invalid token");
      await expectFailure(
        provider.abandonOrchestrationItem("invalid-token", null, false),
        "abandon with an invalid token",
      );
      // The real lock is untouched.
      await expectNoOrchestrationItem(provider);
    });

    it("test_concurrent_instance_fetching", async () => {
      const provider = await factory.createProvider();
      for (let i = 0; i < 10; i++) await provider.enqueueForOrchestrator(startItem(`inst-${i}`), null);

      const results = await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          await sleep(i * 30);
          return fetchOrchestration(provider);
        }),
      );
      const instances = new Set(results.flatMap((r) => (r ? [r.item.instance] : [])));
      expect(instances.size, "each of the 10 instances is fetched exactly once").toBe(10);
    });

    it("test_completions_arriving_during_lock_blocked", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      await provider.enqueueForOrchestrator(startItem("instance-A"), null);

      const first = await expectOrchestrationItem(provider, { lockTimeoutMs });
      expect(first.item.instance).toBe("instance-A");

      for (let id = 1; id <= 3; id++) {
        await provider.enqueueForOrchestrator(activityCompleted("instance-A", id, `result-${id}`), null);
      }
      await expectNoOrchestrationItem(provider, { lockTimeoutMs });

      await elapse(factory, lockTimeoutMs + 100);
      const second = await expectOrchestrationItem(provider, { lockTimeoutMs });
      expect(second.item.instance).toBe("instance-A");
      expect(second.item.messages, "the start plus 3 completions").toHaveLength(4);
      expect(completionIds(second.item.messages)).toEqual([1, 2, 3]);
    });

    it("test_cross_instance_lock_isolation", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "instance-A");
      await createInstance(provider, "instance-B");
      await provider.enqueueForOrchestrator(startItem("instance-A"), null);
      await provider.enqueueForOrchestrator(startItem("instance-B"), null);

      const a = await expectOrchestrationItem(provider);
      expect(a.item.instance).toBe("instance-A");
      const b = await expectOrchestrationItem(provider);
      expect(b.item.instance, "a lock on A must not block B").toBe("instance-B");

      await ack(provider, b.lockToken, { metadata: testMetadata() });
      await provider.enqueueForOrchestrator(activityCompleted("instance-B", 1, "done"), null);

      const b2 = await expectOrchestrationItem(provider);
      expect(b2.item.instance, "B is fetchable again while A stays locked").toBe("instance-B");
    });

    it("test_message_tagging_during_lock", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "instance-A");
      await provider.enqueueForOrchestrator(activityCompleted("instance-A", 1, "msg1"), null);
      await provider.enqueueForOrchestrator(activityCompleted("instance-A", 2, "msg2"), null);

      const first = await expectOrchestrationItem(provider);
      expect(first.item.instance).toBe("instance-A");
      expect(first.item.messages).toHaveLength(2);

      await provider.enqueueForOrchestrator(activityCompleted("instance-A", 3, "msg3"), null);
      await ack(provider, first.lockToken);

      const second = await expectOrchestrationItem(provider);
      expect(second.item.instance).toBe("instance-A");
      expect(second.item.messages, "only the message that arrived during the lock").toHaveLength(1);
      expect(payloadOf(second.item.messages[0], "ActivityCompleted").id).toBe(3);
    });

    it("test_ack_only_affects_locked_messages", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "instance-A");
      await provider.enqueueForOrchestrator(activityCompleted("instance-A", 1, "msg1"), null);

      const first = await expectOrchestrationItem(provider);
      expect(first.item.messages).toHaveLength(1);

      await provider.enqueueForOrchestrator(activityCompleted("instance-A", 2, "msg2"), null);
      await provider.enqueueForOrchestrator(activityCompleted("instance-A", 3, "msg3"), null);
      await expectNoOrchestrationItem(provider);

      await ack(provider, first.lockToken);

      const second = await expectOrchestrationItem(provider);
      expect(second.item.instance).toBe("instance-A");
      expect(second.item.messages).toHaveLength(2);
      expect(completionIds(second.item.messages)).toEqual([2, 3]);
    });

    it("test_multi_threaded_lock_contention", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForOrchestrator(startItem("contention-instance"), null);

      const results = await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          await sleep(i * 5);
          return fetchOrchestration(provider);
        }),
      );
      const winners = results.filter((r): r is FetchedOrchestrationItem => r !== null);
      expect(winners, "exactly one fetcher gets the instance").toHaveLength(1);
      expect(winners[0]?.item.instance).toBe("contention-instance");

      await expectNoOrchestrationItem(provider);
    });

    it("test_multi_threaded_no_duplicate_processing", async () => {
      const provider = await factory.createProvider();
      const instanceCount = 20;
      for (let i = 0; i < instanceCount; i++) {
        await provider.enqueueForOrchestrator(startItem(`dup-test-${i}`), null);
      }

      const fetchWithRetry = async (delayMs: number): Promise<string | null> => {
        await sleep(delayMs);
        for (let attempt = 0; ; attempt++) {
          try {
            return (await fetchOrchestration(provider))?.item.instance ?? null;
          } catch (error) {
            if (!isRetryable(error) || attempt >= 2) return null;
            await sleep(10 * (attempt + 1));
          }
        }
      };
      const results = await Promise.all(
        Array.from({ length: instanceCount * 2 }, (_, i) => fetchWithRetry((i * 3) % 50)),
      );
      const fetched = results.filter((r): r is string => r !== null);

      expect(new Set(fetched).size, "no instance may be handed out twice").toBe(fetched.length);
      expect(fetched.length).toBeLessThanOrEqual(instanceCount);
    });

    it("test_multi_threaded_lock_expiration_recovery", async () => {
      const provider = await factory.createProvider();
      const lockTimeoutMs = factory.lockTimeoutMs;
      await provider.enqueueForOrchestrator(startItem("expiration-instance"), null);

      // T1 takes the lock and "crashes" (never acks). T3 waits until T1's lock has surely lapsed:
      // measured from when T1's fetch returned, so a slow first connection can't make T3 early.
      let holderFetched!: (at: number) => void;
      const holderFetchedAt = new Promise<number>((resolve) => {
        holderFetched = resolve;
      });

      const holder = (async () => {
        const held = await expectOrchestrationItem(provider, { lockTimeoutMs });
        holderFetched(Date.now());
        expect(held.item.instance).toBe("expiration-instance");
        return held.lockToken;
      })();
      const blocked = (async () => {
        await sleep(200);
        return fetchOrchestration(provider, { lockTimeoutMs });
      })();
      const recovered = (async () => {
        const start = Date.now();
        await sleep(lockTimeoutMs + 100);
        const fetchedAt = await holderFetchedAt;
        const remaining = fetchedAt + lockTimeoutMs + 100 - Date.now();
        if (remaining > 0 && fetchedAt > start) await sleep(remaining);
        return fetchOrchestration(provider, { lockTimeoutMs });
      })();

      const [holderToken, blockedResult, recoveredResult] = await Promise.all([holder, blocked, recovered]);
      expect(blockedResult, "the instance is locked while T1 holds it").toBeNull();
      expect(recoveredResult, "the instance is fetchable after the lock expired").not.toBeNull();
      expect(recoveredResult?.item.instance).toBe("expiration-instance");
      expect(recoveredResult?.lockToken).not.toBe(holderToken);
    });
  });
}
