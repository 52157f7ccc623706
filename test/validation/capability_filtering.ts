/**
 * capability_filtering (20): fetches under a DispatcherCapabilityFilter only return instances whose
 * current execution is pinned to a version in the (first) range, or not pinned; the filter is
 * applied before any lock or history decode; pins are stored per execution through ack metadata;
 * corrupted history surfaces as historyError and counts attempts.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { ErrorDetails, FetchedOrchestrationItem, Provider, SemVer } from "../../src/provider/types.ts";
import type { ProviderFactory } from "./factory.ts";
import {
  ack,
  admin,
  continueAsNew,
  continuedAsNewEvent,
  expectOrchestrationItem,
  externalRaised,
  fetchOrchestration,
  makeEvent,
  semver,
  sleep,
  startedEvent,
  startItem,
  testMetadata,
  versionFilter,
} from "./helpers.ts";

const LOCK_MS = 30_000;

function startedAt(instance: string, version: string, executionId = 1) {
  const event = startedEvent(instance, 1, { executionId });
  return { ...event, duroxide_version: version };
}

/**
 * "Seed at version v": enqueue a start, fetch it (abandoning, ignoring the attempt, any other
 * instance the fetch hands out first), ack an OrchestrationStarted written by v with v as the
 * pinned version, plus a "ping" so the instance is fetchable again at once.
 */
async function seedAtVersion(provider: Provider, instance: string, version: string): Promise<void> {
  await provider.enqueueForOrchestrator(startItem(instance), null);
  const others: string[] = [];
  let mine: FetchedOrchestrationItem | null = null;
  while (!mine) {
    const fetched = await expectOrchestrationItem(provider, { lockTimeoutMs: LOCK_MS });
    if (fetched.item.instance === instance) mine = fetched;
    else others.push(fetched.lockToken);
  }
  await ack(provider, mine.lockToken, {
    events: [startedAt(instance, version)],
    orchestratorItems: [externalRaised(instance, "ping")],
    metadata: testMetadata({ pinnedDuroxideVersion: semver(version) }),
  });
  for (const token of others) await provider.abandonOrchestrationItem(token, null, true);
}

async function seedAndCorrupt(
  factory: ProviderFactory,
  provider: Provider,
  instance: string,
  version: string,
) {
  await seedAtVersion(provider, instance, version);
  await factory.corruptInstanceHistory(provider, instance);
}

const filtered = (provider: Provider, min: string, max: string, lockTimeoutMs = LOCK_MS) =>
  fetchOrchestration(provider, { filter: versionFilter(min, max), lockTimeoutMs });

export function registerCapabilityFilteringTests(factory: ProviderFactory): void {
  describe("capability_filtering", () => {
    afterEach(() => factory.cleanup());

    it("test_fetch_with_filter_none_returns_any_item", async () => {
      const provider = await factory.createProvider();
      await seedAtVersion(provider, "inst-1", "1.2.3");
      expect((await fetchOrchestration(provider))?.item.instance).toBe("inst-1");
    });

    it("test_fetch_with_compatible_filter_returns_item", async () => {
      const provider = await factory.createProvider();
      await seedAtVersion(provider, "inst-2", "1.2.3");
      expect((await filtered(provider, "1.0.0", "1.9.9"))?.item.instance).toBe("inst-2");
    });

    it("test_fetch_with_incompatible_filter_skips_item", async () => {
      const provider = await factory.createProvider();
      await seedAtVersion(provider, "inst-3", "1.2.3");
      expect(await filtered(provider, "2.0.0", "2.9.9")).toBeNull();
    });

    it("test_fetch_filter_skips_incompatible_selects_compatible", async () => {
      const provider = await factory.createProvider();
      await seedAtVersion(provider, "inst-v1", "1.0.0");
      await seedAtVersion(provider, "inst-v2", "2.0.0");
      const v2 = await filtered(provider, "2.0.0", "2.9.9");
      expect(v2?.item.instance).toBe("inst-v2");
      await provider.abandonOrchestrationItem(v2!.lockToken, null, true);
      expect((await filtered(provider, "1.0.0", "1.9.9"))?.item.instance).toBe("inst-v1");
    });

    it("test_fetch_filter_does_not_lock_skipped_instances", async () => {
      const provider = await factory.createProvider();
      await seedAtVersion(provider, "inst-5", "1.0.0");
      expect(await filtered(provider, "2.0.0", "2.9.9")).toBeNull();
      expect((await filtered(provider, "0.0.0", "1.9.9"))?.item.instance).toBe("inst-5");
    });

    it("test_fetch_filter_null_pinned_version_always_compatible", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForOrchestrator(startItem("inst-null"), null);
      const first = await expectOrchestrationItem(provider);
      await ack(provider, first.lockToken, {
        events: [startedEvent("inst-null", 1)],
        metadata: testMetadata({ pinnedDuroxideVersion: null }),
      });
      await provider.enqueueForOrchestrator(externalRaised("inst-null", "ping"), null);
      expect((await filtered(provider, "99.0.0", "99.9.9"))?.item.instance).toBe("inst-null");
    });

    it("test_fetch_filter_boundary_versions", async () => {
      const provider = await factory.createProvider();
      await seedAtVersion(provider, "v1-low", "1.0.0");
      const low = await filtered(provider, "1.0.0", "1.9.99");
      expect(low?.item.instance).toBe("v1-low");
      await provider.abandonOrchestrationItem(low!.lockToken, null, true);
      await seedAtVersion(provider, "v1-high", "1.9.99");
      const next = await filtered(provider, "1.0.0", "1.9.99");
      expect(next).not.toBeNull();
      await provider.abandonOrchestrationItem(next!.lockToken, null, true);

      const clean = await factory.createProvider();
      await seedAtVersion(clean, "v2-exact", "2.0.0");
      expect(await filtered(clean, "1.0.0", "1.9.99")).toBeNull();
      expect((await fetchOrchestration(clean))?.item.instance).toBe("v2-exact");
    });

    it("test_pinned_version_stored_via_ack_metadata", async () => {
      const provider = await factory.createProvider();
      await seedAtVersion(provider, "inst-8", "3.1.4");
      expect((await filtered(provider, "3.0.0", "3.9.9"))?.item.instance).toBe("inst-8");
    });

    it("test_pinned_version_immutable_across_ack_cycles", async () => {
      const provider = await factory.createProvider();
      await seedAtVersion(provider, "inst-9", "1.0.0");
      const turn = await filtered(provider, "0.0.0", "1.9.9");
      expect(turn?.item.instance).toBe("inst-9");
      // A later turn without a pin must not clear the stored one.
      await ack(provider, turn!.lockToken, {
        events: [makeEvent("inst-9", 2, { type: "ExternalEvent", name: "ping", data: "{}" })],
        orchestratorItems: [externalRaised("inst-9", "ping")],
        metadata: testMetadata({ pinnedDuroxideVersion: null }),
      });
      expect((await filtered(provider, "0.0.0", "1.9.9"))?.item.instance).toBe("inst-9");
    });

    it("test_continue_as_new_execution_gets_own_pinned_version", async () => {
      const provider = await factory.createProvider();
      await seedAtVersion(provider, "inst-can", "1.0.0");
      const one = await filtered(provider, "0.0.0", "1.9.9");
      expect(one?.item.instance).toBe("inst-can");
      await ack(provider, one!.lockToken, {
        events: [continuedAsNewEvent("inst-can", 2, "{}")],
        orchestratorItems: [continueAsNew("inst-can")],
        metadata: testMetadata({ status: "ContinuedAsNew", output: "{}" }),
      });
      const two = await expectOrchestrationItem(provider);
      await ack(provider, two.lockToken, {
        executionId: 2,
        events: [startedAt("inst-can", "2.0.0", 2)],
        orchestratorItems: [externalRaised("inst-can", "ping")],
        metadata: testMetadata({ pinnedDuroxideVersion: semver("2.0.0") as SemVer }),
      });
      const v2 = await filtered(provider, "2.0.0", "2.9.9");
      expect(v2?.item.instance).toBe("inst-can");
      await provider.abandonOrchestrationItem(v2!.lockToken, null, true);
      expect(await filtered(provider, "1.0.0", "1.9.9")).toBeNull();
    });

    it("test_filter_with_empty_supported_versions_returns_nothing", async () => {
      const provider = await factory.createProvider();
      await seedAtVersion(provider, "inst-empty", "1.0.0");
      expect(await provider.fetchOrchestrationItem(LOCK_MS, 0, { supportedDuroxideVersions: [] })).toBeNull();
    });

    it("test_concurrent_filtered_fetch_no_double_lock", async () => {
      const provider = await factory.createProvider();
      await seedAtVersion(provider, "inst-conc", "1.0.0");
      expect(await filtered(provider, "0.0.0", "1.9.9")).not.toBeNull();
      expect(await filtered(provider, "0.0.0", "1.9.9")).toBeNull();
    });

    it("test_ack_stores_pinned_version_via_metadata_update", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForOrchestrator(startItem("inst-backfill"), null);
      const first = await expectOrchestrationItem(provider);
      await ack(provider, first.lockToken, {
        events: [startedEvent("inst-backfill", 1)],
        orchestratorItems: [externalRaised("inst-backfill", "ping")],
        metadata: testMetadata({ pinnedDuroxideVersion: null }),
      });
      const second = await expectOrchestrationItem(provider);
      await ack(provider, second.lockToken, {
        events: [makeEvent("inst-backfill", 2, { type: "ExternalEvent", name: "ping", data: "{}" })],
        orchestratorItems: [externalRaised("inst-backfill", "ping")],
        metadata: testMetadata({ pinnedDuroxideVersion: semver("1.2.3") }),
      });
      expect((await filtered(provider, "1.0.0", "1.9.9"))?.item.instance).toBe("inst-backfill");
    });

    it("test_provider_updates_pinned_version_when_told", async () => {
      const provider = await factory.createProvider();
      await seedAtVersion(provider, "inst-repin", "1.0.0");
      const turn = await expectOrchestrationItem(provider);
      await ack(provider, turn.lockToken, {
        events: [makeEvent("inst-repin", 2, { type: "ExternalEvent", name: "ping", data: "{}" })],
        orchestratorItems: [externalRaised("inst-repin", "ping")],
        metadata: testMetadata({ pinnedDuroxideVersion: semver("2.0.0") }),
      });
      const v2 = await filtered(provider, "2.0.0", "2.0.0");
      expect(v2?.item.instance).toBe("inst-repin");
      await provider.abandonOrchestrationItem(v2!.lockToken, null, true);
      expect(await filtered(provider, "1.0.0", "1.0.0")).toBeNull();
    });

    it("test_fetch_corrupted_history_filtered_vs_unfiltered", async () => {
      const provider = await factory.createProvider();
      await seedAndCorrupt(factory, provider, "inst-corrupt-39", "1.0.0");
      expect(await filtered(provider, "2.0.0", "2.9.9")).toBeNull();
      const item = await expectOrchestrationItem(provider);
      expect(item.item.instance).toBe("inst-corrupt-39");
      expect(item.item.historyError).not.toBeNull();
      expect(item.item.history).toEqual([]);
      await provider.abandonOrchestrationItem(item.lockToken, null, true);
    });

    it("test_fetch_deserialization_error_increments_attempt_count", async () => {
      const provider = await factory.createProvider();
      await seedAndCorrupt(factory, provider, "inst-deser-41", "1.0.0");
      const first = await expectOrchestrationItem(provider, { lockTimeoutMs: 50 });
      expect(first.item.historyError).not.toBeNull();
      await provider.abandonOrchestrationItem(first.lockToken, null, false);
      await sleep(100);
      const second = await expectOrchestrationItem(provider, { lockTimeoutMs: 50 });
      expect(second.item.historyError).not.toBeNull();
      expect(await factory.getMaxAttemptCount(provider, "inst-deser-41")).toBeGreaterThanOrEqual(2);
    });

    it("test_fetch_deserialization_error_eventually_reaches_poison", async () => {
      const provider = await factory.createProvider();
      await seedAndCorrupt(factory, provider, "inst-poison-42", "1.0.0");
      for (let cycle = 0; cycle < 5; cycle++) {
        const fetched = await expectOrchestrationItem(provider, { lockTimeoutMs: 50 });
        expect(fetched.item.historyError).not.toBeNull();
        await provider.abandonOrchestrationItem(fetched.lockToken, null, false);
        await sleep(100);
      }
      expect(await factory.getMaxAttemptCount(provider, "inst-poison-42")).toBeGreaterThanOrEqual(5);
    });

    it("test_fetch_filter_applied_before_history_deserialization", async () => {
      const provider = await factory.createProvider();
      await seedAndCorrupt(factory, provider, "inst-99", "99.0.0");
      // Had the provider decoded history before filtering, this would be a historyError item.
      expect(await filtered(provider, "1.0.0", "2.0.0")).toBeNull();
      const unfiltered = await expectOrchestrationItem(provider);
      expect(unfiltered.item.instance).toBe("inst-99");
      expect(unfiltered.item.historyError).not.toBeNull();
    });

    it("test_fetch_single_range_only_uses_first_range", async () => {
      const provider = await factory.createProvider();
      await seedAtVersion(provider, "inst-a", "1.0.0");
      await seedAtVersion(provider, "inst-b", "3.0.0");
      const twoRanges = {
        supportedDuroxideVersions: [
          { min: semver("1.0.0"), max: semver("1.5.0") },
          { min: semver("3.0.0"), max: semver("3.5.0") },
        ],
      };
      const first = await provider.fetchOrchestrationItem(LOCK_MS, 0, twoRanges);
      expect(first?.item.instance).toBe("inst-a");
      await provider.abandonOrchestrationItem(first!.lockToken, null, true);
      const second = await provider.fetchOrchestrationItem(LOCK_MS, 0, twoRanges);
      expect(second === null || second.item.instance === "inst-a").toBe(true);
    });

    it("test_ack_appends_event_to_corrupted_history", async () => {
      const provider = await factory.createProvider();
      const instance = "inst-ack-corrupt-45";
      await seedAndCorrupt(factory, provider, instance, "1.0.0");
      const fetched = await expectOrchestrationItem(provider);
      expect(fetched.item.historyError).not.toBeNull();
      expect(fetched.item.history).toEqual([]);
      const error = fetched.item.historyError as string;
      const details: ErrorDetails = {
        Poison: {
          attempt_count: 4,
          max_attempts: 3,
          message_type: {
            FailedDeserialization: { instance, execution_id: fetched.item.executionId, error },
          },
          message: error,
        },
      };
      const output = `poison: orchestration ${instance} history deserialization failed after 4 attempts (max 3): ${error}`;
      await ack(provider, fetched.lockToken, {
        executionId: fetched.item.executionId,
        events: [
          makeEvent(
            instance,
            99_999,
            { type: "OrchestrationFailed", details },
            { executionId: fetched.item.executionId },
          ),
        ],
        metadata: {
          status: "Failed",
          output,
          orchestrationName: fetched.item.orchestrationName,
          orchestrationVersion: fetched.item.version,
        },
      });
      const info = await admin(provider).getInstanceInfo(instance);
      expect(info.status).toBe("Failed");
      expect(info.output).toContain("deserialization failed");
    });
  });
}
