/**
 * kv_store (35): KV events in an ack's delta mutate the current execution's delta; a terminal
 * status (Completed, Failed, ContinuedAsNew) merges it into the instance's store; the fetch
 * snapshot is the store only; client reads overlay the delta; prune never touches KV; deleting an
 * instance (or its root) removes it.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Event, Provider } from "../../src/provider/types.ts";
import type { ProviderFactory } from "./factory.ts";
import {
  ack,
  admin,
  completedEvent,
  continueAsNew,
  createInstance,
  expectOrchestrationItem,
  kvClearedAllEvent,
  kvClearedEvent,
  kvSetEvent,
  poke,
  startedEvent,
  startItem,
  testMetadata,
} from "./helpers.ts";

/** One instance driven through KV turns: event ids keep increasing so deltas never collide. */
class KvInstance {
  private nextEventId = 100;
  executionId = 1;

  constructor(
    readonly provider: Provider,
    readonly id: string,
  ) {}

  static async create(provider: Provider, id: string): Promise<KvInstance> {
    await createInstance(provider, id);
    return new KvInstance(provider, id);
  }

  private opts() {
    return { executionId: this.executionId };
  }

  setEvent(key: string, value: string): Event {
    return kvSetEvent(this.id, this.nextEventId++, key, value, this.opts());
  }
  clearEvent(key: string): Event {
    return kvClearedEvent(this.id, this.nextEventId++, key, this.opts());
  }
  clearAllEvent(): Event {
    return kvClearedAllEvent(this.id, this.nextEventId++, this.opts());
  }

  /** Poke, fetch, ack these events with default metadata (the execution stays as it is). */
  async turn(...events: Event[]): Promise<void> {
    await poke(this.provider, this.id);
    const fetched = await expectOrchestrationItem(this.provider);
    expect(fetched.item.instance).toBe(this.id);
    await ack(this.provider, fetched.lockToken, { executionId: this.executionId, events });
  }

  set(key: string, value: string) {
    return this.turn(this.setEvent(key, value));
  }
  clear(key: string) {
    return this.turn(this.clearEvent(key));
  }
  clearAll() {
    return this.turn(this.clearAllEvent());
  }

  get(key: string) {
    return this.provider.getKvValue(this.id, key);
  }

  /** Mark the current execution ContinuedAsNew, then start the next one from a ContinueAsNew. */
  async continueAsNew(): Promise<void> {
    await poke(this.provider, this.id);
    const marking = await expectOrchestrationItem(this.provider);
    await ack(this.provider, marking.lockToken, {
      executionId: this.executionId,
      metadata: testMetadata({ status: "ContinuedAsNew" }),
    });
    this.executionId++;
    await this.provider.enqueueForOrchestrator(continueAsNew(this.id), null);
    const next = await expectOrchestrationItem(this.provider);
    await ack(this.provider, next.lockToken, {
      executionId: this.executionId,
      events: [startedEvent(this.id, 1, this.opts())],
      metadata: testMetadata(),
    });
  }

  /** A turn appending OrchestrationCompleted (event 9999) with status Completed. */
  async complete(): Promise<void> {
    await poke(this.provider, this.id);
    const fetched = await expectOrchestrationItem(this.provider);
    await ack(this.provider, fetched.lockToken, {
      executionId: this.executionId,
      events: [completedEvent(this.id, 9999, "done", this.opts())],
      metadata: testMetadata({ status: "Completed", output: "done" }),
    });
  }

  /** Poke and fetch: the turn's KV snapshot (the lock is released again, ignoring the attempt). */
  async snapshot(): Promise<Map<string, string>> {
    await poke(this.provider, this.id);
    const fetched = await expectOrchestrationItem(this.provider);
    expect(fetched.item.instance).toBe(this.id);
    await this.provider.abandonOrchestrationItem(fetched.lockToken, null, true);
    return new Map([...fetched.item.kvSnapshot].map(([k, v]) => [k, v.value]));
  }
}

export function registerKvStoreTests(factory: ProviderFactory): void {
  describe("kv_store", () => {
    afterEach(() => factory.cleanup());

    it("test_kv_set_and_get", async () => {
      const kv = await KvInstance.create(await factory.createProvider(), "kv-set");
      await kv.set("counter", "42");
      expect(await kv.get("counter")).toBe("42");
    });

    it("test_kv_overwrite", async () => {
      const kv = await KvInstance.create(await factory.createProvider(), "kv-over");
      await kv.set("status", "old");
      expect(await kv.get("status")).toBe("old");
      await kv.set("status", "new");
      expect(await kv.get("status")).toBe("new");
    });

    it("test_kv_clear_single", async () => {
      const kv = await KvInstance.create(await factory.createProvider(), "kv-clear");
      await kv.set("temp", "value");
      expect(await kv.get("temp")).toBe("value");
      await kv.clear("temp");
      expect(await kv.get("temp")).toBeNull();
    });

    it("test_kv_clear_all", async () => {
      const kv = await KvInstance.create(await factory.createProvider(), "kv-clearall");
      await kv.turn(kv.setEvent("a", "1"), kv.setEvent("b", "2"));
      expect(await kv.get("a")).toBe("1");
      expect(await kv.get("b")).toBe("2");
      await kv.clearAll();
      expect(await kv.get("a")).toBeNull();
      expect(await kv.get("b")).toBeNull();
    });

    it("test_kv_get_nonexistent", async () => {
      const kv = await KvInstance.create(await factory.createProvider(), "kv-none");
      expect(await kv.get("missing")).toBeNull();
    });

    it("test_kv_snapshot_in_fetch", async () => {
      const kv = await KvInstance.create(await factory.createProvider(), "kv-fetch");
      await kv.turn(kv.setEvent("x", "10"), kv.setEvent("y", "20"));
      await kv.complete();
      expect(await kv.snapshot()).toEqual(
        new Map([
          ["x", "10"],
          ["y", "20"],
        ]),
      );
    });

    it("test_kv_snapshot_after_clear_single", async () => {
      const kv = await KvInstance.create(await factory.createProvider(), "kv-snap-clear");
      await kv.turn(kv.setEvent("keep", "yes"), kv.setEvent("remove", "no"));
      await kv.clear("remove");
      await kv.complete();
      expect(await kv.snapshot()).toEqual(new Map([["keep", "yes"]]));
    });

    it("test_kv_snapshot_after_clear_all", async () => {
      const kv = await KvInstance.create(await factory.createProvider(), "kv-snap-clearall");
      await kv.turn(kv.setEvent("a", "1"), kv.setEvent("b", "2"));
      await kv.clearAll();
      expect(await kv.snapshot()).toEqual(new Map());
    });

    it("test_kv_execution_id_tracking", async () => {
      const provider = await factory.createProvider();
      const kv = await KvInstance.create(provider, "kv-exec");
      await kv.set("shared", "from_exec_1");
      expect(await kv.get("shared")).toBe("from_exec_1");
      await kv.continueAsNew();
      await kv.set("shared", "from_exec_2");
      expect(await kv.get("shared")).toBe("from_exec_2");
      await admin(provider).pruneExecutions("kv-exec", { keepLast: 1 });
      expect(await kv.get("shared")).toBe("from_exec_2");
    });

    it("test_kv_cross_execution_overwrite", async () => {
      const kv = await KvInstance.create(await factory.createProvider(), "kv-xexec");
      await kv.set("k", "v1");
      expect(await kv.get("k")).toBe("v1");
      await kv.continueAsNew();
      await kv.set("k", "v2");
      expect(await kv.get("k")).toBe("v2");
    });

    it("test_kv_cross_execution_remove_readd", async () => {
      const kv = await KvInstance.create(await factory.createProvider(), "kv-readd");
      await kv.set("k", "exec1");
      expect(await kv.get("k")).toBe("exec1");
      await kv.continueAsNew();
      await kv.clear("k");
      expect(await kv.get("k")).toBeNull();
      await kv.continueAsNew();
      await kv.set("k", "exec3");
      expect(await kv.get("k")).toBe("exec3");
    });

    it("test_kv_prune_preserves_overwritten", async () => {
      const provider = await factory.createProvider();
      const kv = await KvInstance.create(provider, "kv-prune-over");
      await kv.set("k", "old");
      await kv.continueAsNew();
      await kv.set("k", "new");
      await admin(provider).pruneExecutions("kv-prune-over", { keepLast: 1 });
      expect(await kv.get("k")).toBe("new");
    });

    it("test_kv_prune_preserves_all_keys", async () => {
      const provider = await factory.createProvider();
      const kv = await KvInstance.create(provider, "kv-prune-all");
      await kv.set("orphan", "from_exec_1");
      await kv.continueAsNew();
      await kv.set("keeper", "from_exec_2");
      await admin(provider).pruneExecutions("kv-prune-all", { keepLast: 1 });
      expect(await kv.get("orphan")).toBe("from_exec_1");
      expect(await kv.get("keeper")).toBe("from_exec_2");
    });

    it("test_kv_instance_isolation", async () => {
      const provider = await factory.createProvider();
      const a = await KvInstance.create(provider, "kv-iso-a");
      const b = await KvInstance.create(provider, "kv-iso-b");
      await a.set("key", "value_a");
      await b.set("key", "value_b");
      expect(await a.get("key")).toBe("value_a");
      expect(await b.get("key")).toBe("value_b");
    });

    it("test_kv_delete_instance_cascades", async () => {
      const provider = await factory.createProvider();
      const kv = await KvInstance.create(provider, "kv-del");
      await kv.set("key", "value");
      await kv.complete();
      await admin(provider).deleteInstance("kv-del", false);
      expect(await kv.get("key")).toBeNull();
    });

    it("test_kv_clear_nonexistent_key", async () => {
      const kv = await KvInstance.create(await factory.createProvider(), "kv-clear-none");
      await kv.clear("never-set");
      expect(await kv.get("never-set")).toBeNull();
    });

    it("test_kv_get_unknown_instance", async () => {
      const provider = await factory.createProvider();
      expect(await provider.getKvValue("no-such-instance", "key")).toBeNull();
    });

    it("test_kv_set_after_clear", async () => {
      const kv = await KvInstance.create(await factory.createProvider(), "kv-set-after-clear");
      await kv.turn(kv.setEvent("old_a", "1"), kv.setEvent("old_b", "2"));
      await kv.turn(kv.clearAllEvent(), kv.setEvent("new_x", "fresh"));
      expect(await kv.get("old_a")).toBeNull();
      expect(await kv.get("old_b")).toBeNull();
      expect(await kv.get("new_x")).toBe("fresh");
    });

    it("test_kv_empty_value", async () => {
      const kv = await KvInstance.create(await factory.createProvider(), "kv-empty");
      await kv.set("empty", "");
      expect(await kv.get("empty")).toBe("");
    });

    it("test_kv_large_value", async () => {
      const kv = await KvInstance.create(await factory.createProvider(), "kv-large");
      const big = "x".repeat(16 * 1024);
      await kv.set("big", big);
      expect(await kv.get("big")).toBe(big);
    });

    it("test_kv_special_chars_in_key", async () => {
      const kv = await KvInstance.create(await factory.createProvider(), "kv-special");
      const keys = ["key with spaces", "キー", "dotted.key.name", "path/to/key", "emoji🔑"];
      await kv.turn(...keys.map((k, i) => kv.setEvent(k, `value-${i}`)));
      for (const [i, k] of keys.entries()) expect(await kv.get(k)).toBe(`value-${i}`);
    });

    it("test_kv_snapshot_empty", async () => {
      const provider = await factory.createProvider();
      await provider.enqueueForOrchestrator(startItem("kv-snap-empty"), null);
      const fetched = await expectOrchestrationItem(provider);
      expect(fetched.item.kvSnapshot.size).toBe(0);
    });

    it("test_kv_snapshot_cross_execution", async () => {
      const kv = await KvInstance.create(await factory.createProvider(), "kv-snap-xexec");
      await kv.set("A", "from_1");
      await kv.continueAsNew();
      await kv.set("B", "from_2");
      // B belongs to the running execution: replay rebuilds it, so the snapshot must not carry it.
      expect(await kv.snapshot()).toEqual(new Map([["A", "from_1"]]));
    });

    it("test_kv_prune_current_execution_protected", async () => {
      const provider = await factory.createProvider();
      const kv = await KvInstance.create(provider, "kv-prune-cur");
      await kv.set("key", "value");
      await admin(provider).pruneExecutions("kv-prune-cur", { keepLast: 1 });
      expect(await kv.get("key")).toBe("value");
    });

    it("test_kv_delete_instance_with_children", async () => {
      const provider = await factory.createProvider();
      const parent = await KvInstance.create(provider, "kv-parent");
      await parent.set("parent_key", "pv");
      await provider.enqueueForOrchestrator(
        startItem("kv-child", { parentInstance: "kv-parent", parentId: 1 }),
        null,
      );
      const childTurn = await expectOrchestrationItem(provider);
      expect(childTurn.item.instance).toBe("kv-child");
      await ack(provider, childTurn.lockToken, {
        events: [startedEvent("kv-child", 1, { parentInstance: "kv-parent", parentId: 1 })],
        metadata: testMetadata({ parentInstanceId: "kv-parent" }),
      });
      const child = new KvInstance(provider, "kv-child");
      await child.set("child_key", "cv");
      await child.complete();
      await parent.complete();
      await admin(provider).deleteInstance("kv-parent", false);
      expect(await parent.get("parent_key")).toBeNull();
      expect(await child.get("child_key")).toBeNull();
    });

    it("test_kv_clear_isolation", async () => {
      const provider = await factory.createProvider();
      const a = await KvInstance.create(provider, "kv-ciso-a");
      const b = await KvInstance.create(provider, "kv-ciso-b");
      await a.set("shared_name", "a_value");
      await b.set("shared_name", "b_value");
      await a.clearAll();
      expect(await a.get("shared_name")).toBeNull();
      expect(await b.get("shared_name")).toBe("b_value");
    });

    it("test_kv_delta_snapshot_excludes_current_execution", async () => {
      const kv = await KvInstance.create(await factory.createProvider(), "kv-delta-excl");
      await kv.set("counter", "1");
      expect(await kv.get("counter")).toBe("1");
      expect(await kv.snapshot()).toEqual(new Map());
    });

    it("test_kv_delta_snapshot_includes_completed_execution", async () => {
      const kv = await KvInstance.create(await factory.createProvider(), "kv-delta-incl");
      await kv.set("counter", "5");
      await kv.continueAsNew();
      expect((await kv.snapshot()).get("counter")).toBe("5");
    });

    it("test_kv_delta_client_reads_merged", async () => {
      const kv = await KvInstance.create(await factory.createProvider(), "kv-delta-merge");
      await kv.turn(kv.setEvent("color", "red"), kv.setEvent("size", "large"));
      await kv.complete();
      // A new execution over the completed one: start it from a ContinueAsNew.
      await kv.continueAsNew();
      await kv.turn(kv.setEvent("color", "blue"), kv.setEvent("shape", "circle"));
      expect(await kv.get("color")).toBe("blue");
      expect(await kv.get("size")).toBe("large");
      expect(await kv.get("shape")).toBe("circle");
      expect(await kv.provider.getKvAllValues(kv.id)).toEqual(
        new Map([
          ["color", "blue"],
          ["size", "large"],
          ["shape", "circle"],
        ]),
      );
    });

    it("test_kv_delta_tombstone_overrides_store", async () => {
      const kv = await KvInstance.create(await factory.createProvider(), "kv-delta-tomb");
      await kv.set("key", "stored");
      await kv.complete();
      await kv.continueAsNew();
      await kv.clear("key");
      expect(await kv.get("key")).toBeNull();
    });

    it("test_kv_delta_clear_all_tombstones_store", async () => {
      const kv = await KvInstance.create(await factory.createProvider(), "kv-delta-clearall");
      await kv.turn(kv.setEvent("a", "1"), kv.setEvent("b", "2"));
      await kv.complete();
      await kv.continueAsNew();
      await kv.turn(kv.clearAllEvent(), kv.setEvent("c", "3"));
      expect(await kv.get("a")).toBeNull();
      expect(await kv.get("b")).toBeNull();
      expect(await kv.get("c")).toBe("3");
    });

    it("test_kv_delta_merged_on_completion", async () => {
      const kv = await KvInstance.create(await factory.createProvider(), "kv-delta-complete");
      await kv.set("result", "42");
      await kv.complete();
      expect(await kv.get("result")).toBe("42");
      expect((await kv.snapshot()).get("result")).toBe("42");
    });

    it("test_kv_delta_merged_on_can", async () => {
      const kv = await KvInstance.create(await factory.createProvider(), "kv-delta-can");
      await kv.turn(kv.setEvent("version", "1"), kv.setEvent("progress", "50%"));
      await kv.set("progress", "100%");
      await kv.continueAsNew();
      expect(await kv.snapshot()).toEqual(
        new Map([
          ["version", "1"],
          ["progress", "100%"],
        ]),
      );
    });

    it("test_kv_delta_delete_instance_cascades", async () => {
      const provider = await factory.createProvider();
      const kv = await KvInstance.create(provider, "kv-delta-del");
      await kv.set("delta_only", "v");
      await admin(provider).deleteInstance("kv-delta-del", true);
      expect(await kv.get("delta_only")).toBeNull();
    });

    it("test_kv_delta_prune_untouched_key_survives", async () => {
      const provider = await factory.createProvider();
      const kv = await KvInstance.create(provider, "kv-dprn");
      await kv.set("stale_config", "v1");
      await kv.continueAsNew();
      await kv.set("other", "v2");
      await kv.continueAsNew();
      expect(await kv.get("stale_config")).toBe("v1");
      expect(await kv.get("other")).toBe("v2");
      await admin(provider).pruneExecutions("kv-dprn", { keepLast: 1 });
      expect(await kv.get("stale_config")).toBe("v1");
      expect(await kv.get("other")).toBe("v2");
      const snapshot = await kv.snapshot();
      expect(snapshot.get("stale_config")).toBe("v1");
      expect(snapshot.get("other")).toBe("v2");
    });
  });
}
