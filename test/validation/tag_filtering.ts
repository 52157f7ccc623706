/**
 * tag_filtering (10): fetchWorkItem applies the TagFilter in the store; tags survive abandon and
 * the orchestration ack path.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Provider, TagFilter, WorkItem } from "../../src/provider/types.ts";
import type { ProviderFactory } from "./factory.ts";
import {
  ack,
  activityExecute,
  anyTag,
  defaultAnd,
  defaultOnly,
  expectNoWorkItem,
  expectOrchestrationItem,
  expectWorkItem,
  noTags,
  startedEvent,
  startItem,
  tagsOnly,
  testMetadata,
} from "./helpers.ts";

/** An ActivityExecute named Activity<id>, tagged or not. */
function tagged(id: number, tag?: string): WorkItem {
  return activityExecute("inst-1", id, `Activity${id}`, tag === undefined ? {} : { tag });
}

async function enqueueAll(provider: Provider, items: WorkItem[]): Promise<void> {
  for (const item of items) await provider.enqueueForWorker(item);
}

/** Fetch with a 5 s lock under `filter` and return the activity's id and tag. */
async function fetchTagged(provider: Provider, filter: TagFilter, lockTimeoutMs = 5_000) {
  const fetched = await expectWorkItem(provider, { tagFilter: filter, lockTimeoutMs });
  expect("ActivityExecute" in fetched.item).toBe(true);
  const a = (fetched.item as { ActivityExecute: { id: number; tag?: string; name: string } }).ActivityExecute;
  return { id: a.id, tag: a.tag, name: a.name, fetched };
}

export function registerTagFilteringTests(factory: ProviderFactory): void {
  describe("tag_filtering", () => {
    afterEach(() => factory.cleanup());

    it("test_default_only_fetches_untagged", async () => {
      const provider = await factory.createProvider();
      await enqueueAll(provider, [tagged(1), tagged(2, "gpu"), tagged(3)]);
      expect(await fetchTagged(provider, defaultOnly())).toMatchObject({ id: 1, tag: undefined });
      expect(await fetchTagged(provider, defaultOnly())).toMatchObject({ id: 3, tag: undefined });
      await expectNoWorkItem(provider, { tagFilter: defaultOnly() });
    });

    it("test_tags_fetches_only_matching", async () => {
      const provider = await factory.createProvider();
      await enqueueAll(provider, [tagged(1), tagged(2, "gpu"), tagged(3, "cpu"), tagged(4, "gpu")]);
      expect(await fetchTagged(provider, tagsOnly("gpu"))).toMatchObject({ id: 2, tag: "gpu" });
      expect(await fetchTagged(provider, tagsOnly("gpu"))).toMatchObject({ id: 4, tag: "gpu" });
      await expectNoWorkItem(provider, { tagFilter: tagsOnly("gpu") });
    });

    it("test_default_and_fetches_untagged_and_matching", async () => {
      const provider = await factory.createProvider();
      await enqueueAll(provider, [tagged(1), tagged(2, "gpu"), tagged(3, "cpu")]);
      expect(await fetchTagged(provider, defaultAnd("gpu"))).toMatchObject({ id: 1, tag: undefined });
      expect(await fetchTagged(provider, defaultAnd("gpu"))).toMatchObject({ id: 2, tag: "gpu" });
      await expectNoWorkItem(provider, { tagFilter: defaultAnd("gpu") });
    });

    it("test_none_filter_returns_nothing", async () => {
      const provider = await factory.createProvider();
      await enqueueAll(provider, [tagged(1), tagged(2, "gpu")]);
      await expectNoWorkItem(provider, { tagFilter: noTags() });
      // The items are still there for a filter that accepts them.
      expect((await fetchTagged(provider, anyTag())).id).toBe(1);
    });

    it("test_multi_tag_filter", async () => {
      const provider = await factory.createProvider();
      await enqueueAll(provider, [tagged(1, "gpu"), tagged(2, "tpu"), tagged(3, "cpu"), tagged(4)]);
      expect(await fetchTagged(provider, tagsOnly("gpu", "tpu"))).toMatchObject({ id: 1, tag: "gpu" });
      expect(await fetchTagged(provider, tagsOnly("gpu", "tpu"))).toMatchObject({ id: 2, tag: "tpu" });
      await expectNoWorkItem(provider, { tagFilter: tagsOnly("gpu", "tpu") });
    });

    it("test_tag_round_trip_preservation", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForWorker(activityExecute("inst-1", 1, "GpuActivity", { tag: "gpu" }));
      const got = await fetchTagged(provider, tagsOnly("gpu"));
      expect(got).toMatchObject({ id: 1, tag: "gpu", name: "GpuActivity" });
    });

    it("test_any_filter_fetches_everything", async () => {
      const provider = await factory.createProvider();
      await enqueueAll(provider, [tagged(1), tagged(2, "gpu"), tagged(3, "cpu")]);
      const ids = [];
      for (let i = 0; i < 3; i++) ids.push((await fetchTagged(provider, anyTag())).id);
      expect(ids.sort()).toEqual([1, 2, 3]);
      await expectNoWorkItem(provider, { tagFilter: anyTag() });
    });

    it("test_tag_survives_abandon_and_refetch", async () => {
      const provider = await factory.createProvider();
      await enqueueAll(provider, [tagged(1, "gpu"), tagged(2)]);
      const first = await fetchTagged(provider, tagsOnly("gpu"));
      expect(first).toMatchObject({ id: 1, tag: "gpu" });
      await provider.abandonWorkItem(first.fetched.lockToken, null, false);
      const again = await fetchTagged(provider, tagsOnly("gpu"));
      expect(again).toMatchObject({ id: 1, tag: "gpu" });
      expect(again.fetched.attemptCount).toBeGreaterThanOrEqual(2);
      expect(again.fetched.lockToken).not.toBe(first.fetched.lockToken);
      expect(await fetchTagged(provider, defaultOnly())).toMatchObject({ id: 2, tag: undefined });
      await expectNoWorkItem(provider, { tagFilter: defaultOnly() });
    });

    it("test_multi_runtime_tag_isolation", async () => {
      const provider = await factory.createProvider();
      await enqueueAll(provider, [
        tagged(1),
        tagged(2, "gpu"),
        tagged(3, "cpu"),
        tagged(4, "fpga"),
        tagged(5, "gpu"),
      ]);
      const hold = 30_000;
      // Runtime A: default only.
      expect((await fetchTagged(provider, defaultOnly(), hold)).id).toBe(1);
      await expectNoWorkItem(provider, { tagFilter: defaultOnly() });
      // Runtime B: gpu + cpu.
      const b = [
        (await fetchTagged(provider, tagsOnly("gpu", "cpu"), hold)).id,
        (await fetchTagged(provider, tagsOnly("gpu", "cpu"), hold)).id,
      ];
      expect(b.sort()).toEqual([2, 3]);
      // Runtime C: cpu + fpga (cpu already taken by B).
      expect((await fetchTagged(provider, tagsOnly("cpu", "fpga"), hold)).id).toBe(4);
      await expectNoWorkItem(provider, { tagFilter: tagsOnly("cpu", "fpga") });
      // Runtime D: anything left.
      expect((await fetchTagged(provider, anyTag(), hold)).id).toBe(5);
      await expectNoWorkItem(provider, { tagFilter: anyTag() });
    });

    it("test_tag_preserved_through_ack_orchestration_item", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForOrchestrator(startItem("tag-inst"), null);
      const turn = await expectOrchestrationItem(provider);
      await ack(provider, turn.lockToken, {
        events: [startedEvent("tag-inst", 1)],
        workerItems: [
          activityExecute("tag-inst", 2, "GpuWork", { tag: "gpu" }),
          activityExecute("tag-inst", 3, "PlainWork"),
        ],
        metadata: testMetadata({ status: "Running" }),
      });
      const plain = await fetchTagged(provider, defaultOnly());
      expect(plain).toMatchObject({ id: 3, tag: undefined, name: "PlainWork" });
      await provider.ackWorkItem(plain.fetched.lockToken, null);
      await expectNoWorkItem(provider, { tagFilter: defaultOnly() });
      expect(await fetchTagged(provider, tagsOnly("gpu"))).toMatchObject({
        id: 2,
        tag: "gpu",
        name: "GpuWork",
      });
    });
  });
}
