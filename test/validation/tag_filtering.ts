/**
 * tag_filtering (10): fetchWorkItem applies the TagFilter (defaultOnly, tags, defaultAnd, any,
 * none) in the store; a tag survives the round trip, abandon and refetch, and the orchestration ack
 * path that schedules activities.
 */

import type { ProviderFactory } from "pg-durable";
import { afterEach, describe, expect, it } from "vitest";
import {
  ack,
  activityExecute,
  anyTag,
  defaultAnd,
  defaultOnly,
  expectOrchestrationItem,
  noTags,
  startedEvent,
  startItem,
  tagsOnly,
} from "./helpers.ts";
import { activityOf, fetchTagged, present, taggedActivity } from "./helpers-routing.ts";

/** The lock test_multi_runtime_tag_isolation and the ack test hold items with. */
const HOLD_MS = 30_000;

export function registerTagFilteringTests(factory: ProviderFactory): void {
  describe("tag_filtering", () => {
    afterEach(() => factory.cleanup());

    it("test_default_only_fetches_untagged", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(taggedActivity("inst-1", 1));
      await provider.enqueueForWorker(taggedActivity("inst-1", 2, "gpu"));
      await provider.enqueueForWorker(taggedActivity("inst-1", 3));

      const first = activityOf(await fetchTagged(provider, defaultOnly()));
      expect(first.id).toBe(1);
      expect(first.tag).toBeUndefined();
      const second = activityOf(await fetchTagged(provider, defaultOnly()));
      expect(second.id).toBe(3);
      expect(second.tag).toBeUndefined();
      expect(await fetchTagged(provider, defaultOnly()), "no untagged item is left").toBeNull();
    });

    it("test_tags_fetches_only_matching", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(taggedActivity("inst-1", 1));
      await provider.enqueueForWorker(taggedActivity("inst-1", 2, "gpu"));
      await provider.enqueueForWorker(taggedActivity("inst-1", 3, "cpu"));
      await provider.enqueueForWorker(taggedActivity("inst-1", 4, "gpu"));

      expect(activityOf(await fetchTagged(provider, tagsOnly("gpu")))).toMatchObject({ id: 2, tag: "gpu" });
      expect(activityOf(await fetchTagged(provider, tagsOnly("gpu")))).toMatchObject({ id: 4, tag: "gpu" });
      expect(await fetchTagged(provider, tagsOnly("gpu")), "no gpu item is left").toBeNull();
    });

    it("test_default_and_fetches_untagged_and_matching", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(taggedActivity("inst-1", 1));
      await provider.enqueueForWorker(taggedActivity("inst-1", 2, "gpu"));
      await provider.enqueueForWorker(taggedActivity("inst-1", 3, "cpu"));

      expect(activityOf(await fetchTagged(provider, defaultAnd("gpu"))).id).toBe(1);
      expect(activityOf(await fetchTagged(provider, defaultAnd("gpu")))).toMatchObject({ id: 2, tag: "gpu" });
      expect(
        await fetchTagged(provider, defaultAnd("gpu")),
        "the cpu item is not fetched by defaultAnd{gpu}",
      ).toBeNull();
    });

    it("test_none_filter_returns_nothing", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(taggedActivity("inst-1", 1));
      await provider.enqueueForWorker(taggedActivity("inst-1", 2, "gpu"));
      expect(await fetchTagged(provider, noTags()), "the none filter never returns items").toBeNull();
    });

    it("test_multi_tag_filter", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(taggedActivity("inst-1", 1, "gpu"));
      await provider.enqueueForWorker(taggedActivity("inst-1", 2, "tpu"));
      await provider.enqueueForWorker(taggedActivity("inst-1", 3, "cpu"));
      await provider.enqueueForWorker(taggedActivity("inst-1", 4));

      const gpuOrTpu = tagsOnly("gpu", "tpu");
      expect(activityOf(await fetchTagged(provider, gpuOrTpu)).tag).toBe("gpu");
      expect(activityOf(await fetchTagged(provider, gpuOrTpu)).tag).toBe("tpu");
      expect(await fetchTagged(provider, gpuOrTpu), "cpu and untagged items are not returned").toBeNull();
    });

    it("test_tag_round_trip_preservation", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(taggedActivity("inst-1", 1, "gpu"));
      const activity = activityOf(await fetchTagged(provider, tagsOnly("gpu")));
      expect(activity.tag, "the tag is preserved").toBe("gpu");
      expect(activity.name).toBe("Activity1");
    });

    it("test_any_filter_fetches_everything", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(taggedActivity("inst-1", 1));
      await provider.enqueueForWorker(taggedActivity("inst-2", 2, "gpu"));
      await provider.enqueueForWorker(taggedActivity("inst-3", 3, "cpu"));

      for (const what of ["the untagged item", "the gpu item", "the cpu item"]) {
        expect(await fetchTagged(provider, anyTag()), `any fetches ${what}`).not.toBeNull();
      }
      expect(await fetchTagged(provider, anyTag()), "the queue is empty").toBeNull();
    });

    it("test_tag_survives_abandon_and_refetch", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(taggedActivity("inst-1", 1, "gpu"));
      await provider.enqueueForWorker(taggedActivity("inst-1", 2));

      const first = present(await fetchTagged(provider, tagsOnly("gpu")), "the gpu item");
      expect(activityOf(first)).toMatchObject({ id: 1, tag: "gpu" });
      await provider.abandonWorkItem(first.lockToken, null, false);

      const again = present(await fetchTagged(provider, tagsOnly("gpu")), "the abandoned gpu item");
      expect(activityOf(again), "the tag survives abandon").toMatchObject({ id: 1, tag: "gpu" });
      expect(again.attemptCount).toBeGreaterThanOrEqual(2);
      expect(again.lockToken).not.toBe(first.lockToken);

      const untagged = activityOf(await fetchTagged(provider, defaultOnly()));
      expect(untagged.id, "defaultOnly sees only the untagged item").toBe(2);
      expect(untagged.tag).toBeUndefined();
    });

    it("test_multi_runtime_tag_isolation", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(taggedActivity("inst-1", 1));
      await provider.enqueueForWorker(taggedActivity("inst-2", 2, "gpu"));
      await provider.enqueueForWorker(taggedActivity("inst-3", 3, "cpu"));
      await provider.enqueueForWorker(taggedActivity("inst-4", 4, "fpga"));
      await provider.enqueueForWorker(taggedActivity("inst-5", 5, "gpu"));

      // Mutually exclusive: defaultOnly sees only the untagged item.
      const untagged = activityOf(await fetchTagged(provider, defaultOnly(), HOLD_MS));
      expect(untagged.id).toBe(1);
      expect(untagged.tag).toBeUndefined();
      expect(await fetchTagged(provider, defaultOnly(), HOLD_MS), "no more untagged items").toBeNull();

      // Partial overlap: {gpu, cpu} takes gpu(2) and cpu(3).
      const gpuCpu = tagsOnly("gpu", "cpu");
      const taken = [
        activityOf(await fetchTagged(provider, gpuCpu, HOLD_MS)).id,
        activityOf(await fetchTagged(provider, gpuCpu, HOLD_MS)).id,
      ].sort((a, b) => a - b);
      expect(taken).toEqual([2, 3]);

      // {cpu, fpga}: cpu(3) is held, so only fpga(4).
      const cpuFpga = tagsOnly("cpu", "fpga");
      expect(activityOf(await fetchTagged(provider, cpuFpga, HOLD_MS))).toMatchObject({ id: 4, tag: "fpga" });
      expect(await fetchTagged(provider, cpuFpga, HOLD_MS), "cpu held and fpga taken").toBeNull();

      // Full overlap: any picks up the remaining gpu(5).
      expect(activityOf(await fetchTagged(provider, anyTag(), HOLD_MS))).toMatchObject({ id: 5, tag: "gpu" });
      expect(await fetchTagged(provider, anyTag(), HOLD_MS), "everything is taken or held").toBeNull();
    });

    it("test_tag_preserved_through_ack_orchestration_item", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForOrchestrator(startItem("tag-ack-inst"), null);
      const turn = await expectOrchestrationItem(provider);

      // The turn schedules one gpu-tagged and one untagged activity through the ack.
      await ack(provider, turn.lockToken, {
        events: [startedEvent("tag-ack-inst", 1)],
        workerItems: [
          activityExecute("tag-ack-inst", 10, "GpuWork", { input: '"model-v3"', tag: "gpu" }),
          activityExecute("tag-ack-inst", 11, "CpuWork", { input: '"data"' }),
        ],
      });

      const plain = present(await fetchTagged(provider, defaultOnly(), HOLD_MS), "the untagged activity");
      expect(activityOf(plain).name, "defaultOnly returns the untagged item").toBe("CpuWork");
      expect(activityOf(plain).tag).toBeUndefined();
      await provider.ackWorkItem(plain.lockToken, null);

      expect(
        await fetchTagged(provider, defaultOnly(), HOLD_MS),
        "defaultOnly must not see the gpu item (was its tag dropped by the ack?)",
      ).toBeNull();

      const gpu = activityOf(await fetchTagged(provider, tagsOnly("gpu"), HOLD_MS));
      expect(gpu.name).toBe("GpuWork");
      expect(gpu.tag, "the tag survives the orchestration ack").toBe("gpu");
    });
  });
}
