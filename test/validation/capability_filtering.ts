/**
 * capability_filtering (20): a fetch under a DispatcherCapabilityFilter only returns instances whose
 * current execution is pinned to a version inside the first range, or not pinned at all; the filter
 * is applied before any lock is taken or any history is decoded; pins are stored per execution from
 * ack metadata, overwritten whenever the metadata carries one; corrupted history comes back as
 * historyError, counts attempts, and can still be terminated by an append-only ack.
 */

import type { DispatcherCapabilityFilter, ErrorDetails, ProviderFactory } from "pg-durable";
import { afterEach, describe, expect, it } from "vitest";
import {
  ack,
  admin,
  continueAsNew,
  continuedAsNewEvent,
  elapse,
  expectOrchestrationItem,
  fetchOrchestration,
  HOLD_LOCK_MS,
  makeEvent,
  semver,
  startItem,
  testMetadata,
} from "./helpers.ts";
import {
  fetchInRange,
  ping,
  present,
  seedAndCorrupt,
  seedAtVersion,
  startedWrittenBy,
} from "./helpers-routing.ts";

/** The short lock of the corruption tests, so an abandoned turn can be refetched quickly. */
const SHORT_LOCK_MS = 50;

export function registerCapabilityFilteringTests(factory: ProviderFactory): void {
  describe("capability_filtering", () => {
    afterEach(() => factory.cleanup());

    it("test_fetch_with_filter_none_returns_any_item", async () => {
      const provider = await factory.createProvider();
      await seedAtVersion(provider, "inst-1", "1.2.3");
      expect(await fetchOrchestration(provider), "no filter returns any item").not.toBeNull();
    });

    it("test_fetch_with_compatible_filter_returns_item", async () => {
      const provider = await factory.createProvider();
      await seedAtVersion(provider, "inst-2", "1.2.3");
      expect(await fetchInRange(provider, "1.0.0", "1.9.9"), "1.2.3 is in [1.0.0, 1.9.9]").not.toBeNull();
    });

    it("test_fetch_with_incompatible_filter_skips_item", async () => {
      const provider = await factory.createProvider();
      await seedAtVersion(provider, "inst-3", "1.2.3");
      expect(await fetchInRange(provider, "2.0.0", "2.9.9"), "1.2.3 is outside [2.0.0, 2.9.9]").toBeNull();
    });

    it("test_fetch_filter_skips_incompatible_selects_compatible", async () => {
      const provider = await factory.createProvider();
      await seedAtVersion(provider, "inst-v1", "1.0.0");
      await seedAtVersion(provider, "inst-v2", "2.0.0");

      const v2 = present(await fetchInRange(provider, "2.0.0", "2.9.9"), "the v2 instance");
      expect(v2.item.instance).toBe("inst-v2");
      await provider.abandonOrchestrationItem(v2.lockToken, null, true);

      const v1 = present(await fetchInRange(provider, "1.0.0", "1.9.9"), "the v1 instance");
      expect(v1.item.instance).toBe("inst-v1");
    });

    it("test_fetch_filter_does_not_lock_skipped_instances", async () => {
      const provider = await factory.createProvider();
      await seedAtVersion(provider, "inst-5", "1.0.0");
      expect(await fetchInRange(provider, "2.0.0", "2.9.9")).toBeNull();
      expect(
        await fetchInRange(provider, "0.0.0", "1.9.9"),
        "the instance skipped by the incompatible fetch must not have been locked",
      ).not.toBeNull();
    });

    it("test_fetch_filter_null_pinned_version_always_compatible", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForOrchestrator(startItem("inst-null"), null);
      const first = await expectOrchestrationItem(provider);
      // No pin in the metadata: the execution's pinned version stays NULL (pre-capability data).
      await ack(provider, first.lockToken, {
        events: [startedWrittenBy("inst-null", "0.0.0")],
        metadata: testMetadata({ pinnedDuroxideVersion: null }),
      });
      await ping(provider, "inst-null");
      expect(
        await fetchInRange(provider, "99.0.0", "99.9.9"),
        "a NULL pinned version is compatible with every filter",
      ).not.toBeNull();
    });

    it("test_fetch_filter_boundary_versions", async () => {
      const provider = await factory.createProvider();

      await seedAtVersion(provider, "v1-low", "1.0.0");
      const low = present(await fetchInRange(provider, "1.0.0", "1.9.99"), "1.0.0 within [1.0.0, 1.9.99]");
      expect(low.item.instance).toBe("v1-low");
      await provider.abandonOrchestrationItem(low.lockToken, null, true);

      await seedAtVersion(provider, "v1-high", "1.9.99");
      const high = present(await fetchInRange(provider, "1.0.0", "1.9.99"), "1.9.99 within [1.0.0, 1.9.99]");
      await provider.abandonOrchestrationItem(high.lockToken, null, true);

      // Just outside the range, on a clean provider so the v1 instances cannot answer.
      const clean = await factory.createProvider();
      await seedAtVersion(clean, "v2-exact", "2.0.0");
      expect(await fetchInRange(clean, "1.0.0", "1.9.99"), "2.0.0 is outside [1.0.0, 1.9.99]").toBeNull();
      expect(await fetchOrchestration(clean), "v2-exact is fetchable without a filter").not.toBeNull();
    });

    it("test_pinned_version_stored_via_ack_metadata", async () => {
      const provider = await factory.createProvider();
      await seedAtVersion(provider, "inst-8", "3.1.4");
      expect(
        await fetchInRange(provider, "3.0.0", "3.9.9"),
        "the pin stored from ack metadata is filterable",
      ).not.toBeNull();
    });

    it("test_pinned_version_immutable_across_ack_cycles", async () => {
      const provider = await factory.createProvider();
      await seedAtVersion(provider, "inst-9", "1.0.0");

      const second = present(await fetchInRange(provider, "0.0.0", "1.9.9"), "the second turn");
      expect(second.item.instance).toBe("inst-9");
      // A later turn's metadata carries no pin: the stored one must stay.
      await ack(provider, second.lockToken, { metadata: testMetadata() });
      await ping(provider, "inst-9", "ping2");

      expect(
        await fetchInRange(provider, "0.0.0", "1.9.9"),
        "the pinned version persists across ack cycles",
      ).not.toBeNull();
    });

    it("test_continue_as_new_execution_gets_own_pinned_version", async () => {
      const provider = await factory.createProvider();
      await seedAtVersion(provider, "inst-can", "1.0.0");

      // Execution 1 (pinned 1.0.0) continues as new.
      const one = present(await fetchInRange(provider, "0.0.0", "1.9.9"), "execution 1's turn");
      await ack(provider, one.lockToken, {
        executionId: 1,
        events: [continuedAsNewEvent("inst-can", 2, "{}")],
        orchestratorItems: [continueAsNew("inst-can")],
        metadata: testMetadata({ status: "ContinuedAsNew" }),
      });

      // Execution 2 starts, written by and pinned to 2.0.0.
      const two = await expectOrchestrationItem(provider);
      await ack(provider, two.lockToken, {
        executionId: 2,
        events: [startedWrittenBy("inst-can", "2.0.0", 2)],
        metadata: testMetadata({ pinnedDuroxideVersion: semver("2.0.0") }),
      });
      await ping(provider, "inst-can");

      const v2 = present(await fetchInRange(provider, "2.0.0", "2.9.9"), "execution 2 under a v2 filter");
      expect(v2.item.instance).toBe("inst-can");
      await provider.abandonOrchestrationItem(v2.lockToken, null, true);

      expect(
        await fetchInRange(provider, "1.0.0", "1.9.9"),
        "execution 2 must not inherit execution 1's pin",
      ).toBeNull();
    });

    it("test_filter_with_empty_supported_versions_returns_nothing", async () => {
      const provider = await factory.createProvider();
      await seedAtVersion(provider, "inst-empty", "1.0.0");
      const noRanges: DispatcherCapabilityFilter = { supportedDuroxideVersions: [] };
      expect(await provider.fetchOrchestrationItem(HOLD_LOCK_MS, 0, noRanges)).toBeNull();
    });

    it("test_concurrent_filtered_fetch_no_double_lock", async () => {
      const provider = await factory.createProvider();
      await seedAtVersion(provider, "inst-conc", "1.0.0");
      expect(await fetchInRange(provider, "0.0.0", "1.9.9"), "the first fetch locks it").not.toBeNull();
      expect(await fetchInRange(provider, "0.0.0", "1.9.9"), "the instance is already locked").toBeNull();
    });

    it("test_ack_stores_pinned_version_via_metadata_update", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForOrchestrator(startItem("inst-backfill"), null);
      const first = await expectOrchestrationItem(provider);
      // First turn without a pin (as if written before capability filtering existed).
      await ack(provider, first.lockToken, {
        events: [startedWrittenBy("inst-backfill", "1.2.3")],
        metadata: testMetadata({ pinnedDuroxideVersion: null }),
      });
      await ping(provider, "inst-backfill");

      // A later turn backfills the pin.
      const second = await expectOrchestrationItem(provider);
      await ack(provider, second.lockToken, {
        metadata: testMetadata({ pinnedDuroxideVersion: semver("1.2.3") }),
      });
      await ping(provider, "inst-backfill", "ping2");

      expect(
        await fetchInRange(provider, "1.0.0", "1.9.9"),
        "the backfilled pin is filterable",
      ).not.toBeNull();
    });

    it("test_provider_updates_pinned_version_when_told", async () => {
      const provider = await factory.createProvider();
      await seedAtVersion(provider, "inst-update", "1.0.0");

      const turn = present(await fetchInRange(provider, "0.0.0", "1.9.9"), "the second turn");
      await ack(provider, turn.lockToken, {
        metadata: testMetadata({ pinnedDuroxideVersion: semver("2.0.0") }),
      });
      await ping(provider, "inst-update", "ping2");

      const v2 = present(await fetchInRange(provider, "2.0.0", "2.0.0"), "the re-pinned instance");
      await provider.abandonOrchestrationItem(v2.lockToken, null, true);
      expect(await fetchInRange(provider, "1.0.0", "1.0.0"), "the pin was overwritten with 2.0.0").toBeNull();
    });

    it("test_fetch_corrupted_history_filtered_vs_unfiltered", async () => {
      const provider = await factory.createProvider();
      await seedAndCorrupt(factory, provider, "inst-corrupt-39", "1.0.0");

      // Excluded by the filter: no error, no decode attempted.
      expect(await fetchInRange(provider, "2.0.0", "2.9.9")).toBeNull();

      // Unfiltered: the item comes back, flagged, with empty history.
      const fetched = await expectOrchestrationItem(provider);
      expect(fetched.item.historyError, "corrupted history sets historyError").not.toBeNull();
      expect(fetched.item.history).toEqual([]);
      expect(fetched.item.instance).toBe("inst-corrupt-39");
      await provider.abandonOrchestrationItem(fetched.lockToken, null, true);
    });

    it("test_fetch_deserialization_error_increments_attempt_count", async () => {
      const provider = await factory.createProvider();
      await seedAndCorrupt(factory, provider, "inst-deser-41", "1.0.0");

      const first = await expectOrchestrationItem(provider, { lockTimeoutMs: SHORT_LOCK_MS });
      expect(first.item.historyError).not.toBeNull();
      await provider.abandonOrchestrationItem(first.lockToken, null, false);

      await elapse(factory, 100);

      const second = await expectOrchestrationItem(provider, { lockTimeoutMs: SHORT_LOCK_MS });
      expect(second.item.historyError).not.toBeNull();
      await provider.abandonOrchestrationItem(second.lockToken, null, false);

      expect(await factory.getMaxAttemptCount(provider, "inst-deser-41")).toBeGreaterThanOrEqual(2);
    });

    it("test_fetch_deserialization_error_eventually_reaches_poison", async () => {
      const provider = await factory.createProvider();
      await seedAndCorrupt(factory, provider, "inst-poison-42", "1.0.0");

      const cycles = 5;
      for (let cycle = 1; cycle <= cycles; cycle++) {
        const fetched = await expectOrchestrationItem(provider, { lockTimeoutMs: SHORT_LOCK_MS });
        expect(fetched.item.historyError, `fetch #${cycle} sets historyError`).not.toBeNull();
        await provider.abandonOrchestrationItem(fetched.lockToken, null, false);
        await elapse(factory, 100);
      }

      // The runtime poisons once attemptCount exceeds its maximum: the count must keep climbing.
      expect(await factory.getMaxAttemptCount(provider, "inst-poison-42")).toBeGreaterThanOrEqual(cycles);
    });

    it("test_fetch_filter_applied_before_history_deserialization", async () => {
      const provider = await factory.createProvider();
      await seedAndCorrupt(factory, provider, "inst-order-43", "99.0.0");

      // Had the provider decoded history before filtering, this would be an item with historyError.
      expect(await fetchInRange(provider, "1.0.0", "2.0.0")).toBeNull();

      const unfiltered = await expectOrchestrationItem(provider);
      expect(unfiltered.item.historyError, "unfiltered fetch sees the corruption").not.toBeNull();
      await provider.abandonOrchestrationItem(unfiltered.lockToken, null, true);
    });

    it("test_fetch_single_range_only_uses_first_range", async () => {
      const provider = await factory.createProvider();
      await seedAtVersion(provider, "inst-range-a", "1.0.0");
      await seedAtVersion(provider, "inst-range-b", "3.0.0");
      const twoRanges: DispatcherCapabilityFilter = {
        supportedDuroxideVersions: [
          { min: semver("1.0.0"), max: semver("1.5.0") },
          { min: semver("3.0.0"), max: semver("3.5.0") },
        ],
      };

      const first = present(await provider.fetchOrchestrationItem(HOLD_LOCK_MS, 0, twoRanges), "instance A");
      expect(first.item.instance, "only the first range is used").toBe("inst-range-a");
      await provider.abandonOrchestrationItem(first.lockToken, null, true);

      // A may come back (it was abandoned); B, only in the second range, never may.
      const second = await provider.fetchOrchestrationItem(HOLD_LOCK_MS, 0, twoRanges);
      if (second !== null) expect(second.item.instance, "the second range is ignored").toBe("inst-range-a");
    });

    it("test_ack_appends_event_to_corrupted_history", async () => {
      const provider = await factory.createProvider();
      const instance = "inst-ack-corrupt-45";
      await seedAndCorrupt(factory, provider, instance, "1.0.0");

      const fetched = await expectOrchestrationItem(provider);
      expect(fetched.item.historyError).not.toBeNull();
      expect(fetched.item.history).toEqual([]);
      const { executionId } = fetched.item;
      const error = fetched.item.historyError as string;

      // What the runtime acks when it poisons an instance whose history cannot be decoded.
      const details: ErrorDetails = {
        Poison: {
          attempt_count: 4,
          max_attempts: 3,
          message_type: { FailedDeserialization: { instance, execution_id: executionId, error } },
          message: error,
        },
      };
      const displayMessage = `poison: orchestration ${instance} history deserialization failed after 4 attempts (max 3): ${error}`;

      // Append-only: the corrupted rows must not be read or rewritten by the ack.
      await ack(provider, fetched.lockToken, {
        executionId,
        events: [makeEvent(instance, 99_999, { type: "OrchestrationFailed", details }, { executionId })],
        metadata: {
          status: "Failed",
          output: displayMessage,
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
