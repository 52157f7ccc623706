/**
 * race_replay (duroxide 0.1.31/0.1.32): the provider-level test of the module. Since 0.1.31 the
 * `duroxide_version` stamped on an execution's OrchestrationStarted selects its replay semantics,
 * so every event must come back exactly as it was acked: neither the write nor the fetch path may
 * restamp it. The module's other 8 tests need a runtime on top of the provider; they are run
 * against pg-durable's runtime, outside this provider-only suite (see docs/validation.md).
 */

import type { Event, ProviderFactory } from "pg-durable";
import { afterEach, describe, expect, it } from "vitest";
import {
  ack,
  expectOrchestrationItem,
  externalRaised,
  HOLD_LOCK_MS,
  startedEvent,
  startItem,
  testMetadata,
} from "./helpers.ts";

/** A stamp older than the writer's own: a provider that restamps would overwrite it. */
const LEGACY_STAMP = "0.1.30";

export function registerRaceReplayTests(factory: ProviderFactory): void {
  describe("race_replay", () => {
    afterEach(() => factory.cleanup());

    it("test_queue_replay_version_stamp_roundtrip", async () => {
      const provider = await factory.createProvider();
      const instance = "queue-version-roundtrip";
      await provider.enqueueForOrchestrator(startItem(instance), null);
      const first = await expectOrchestrationItem(provider, { lockTimeoutMs: HOLD_LOCK_MS });
      const started: Event = {
        ...startedEvent(instance, 1, { input: "{}" }),
        duroxide_version: LEGACY_STAMP,
      };
      // Metadata names the orchestration but carries no pin: the stamp lives only in the event.
      await ack(provider, first.lockToken, { events: [started], metadata: testMetadata() });

      expect(
        await provider.readWithExecution(instance, 1),
        "the acked event comes back exactly, every envelope field included",
      ).toStrictEqual([started]);

      await provider.enqueueForOrchestrator(externalRaised(instance, "fetch-stamp", "wake"), null);
      const fetched = await expectOrchestrationItem(provider, { lockTimeoutMs: HOLD_LOCK_MS });
      expect(fetched.item.instance).toBe(instance);
      expect(fetched.item.history[0]?.duroxide_version, "the fetch path must not restamp").toBe(LEGACY_STAMP);
      await provider.abandonOrchestrationItem(fetched.lockToken, null, true);
    });
  });
}
