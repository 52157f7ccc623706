/**
 * kv_store (35): KV events in an ack's delta (KeyValueSet, KeyValueCleared, KeyValuesCleared, in
 * order) mutate the current execution's delta; a terminal status (Completed, Failed,
 * ContinuedAsNew) merges the delta into the instance's store; the fetch snapshot is the store only
 * (replay rebuilds the running execution's values); client reads overlay the delta on the store;
 * pruning executions never touches KV; deleting an instance (or its root) removes it.
 *
 * Every test starts from create_instance; a "turn" acks KV events with default metadata (see
 * helpers-routing.ts for turn / CAN to n / complete / snapshot).
 */

import type { Provider, ProviderFactory } from "pg-durable";
import { afterEach, describe, expect, it } from "vitest";
import {
  ack,
  admin,
  createInstance,
  expectOrchestrationItem,
  startedEvent,
  startItem,
  testMetadata,
} from "./helpers.ts";
import {
  completeExecution,
  continueAsNewTo,
  fetchKvSnapshot,
  kvClear,
  kvClearAll,
  kvSet,
  kvTurn,
} from "./helpers-routing.ts";

/** Client read of one key. */
function read(provider: Provider, instance: string, key: string): Promise<string | null> {
  return provider.getKvValue(instance, key);
}

export function registerKvStoreTests(factory: ProviderFactory): void {
  describe("kv_store", () => {
    afterEach(() => factory.cleanup());

    // -- set, overwrite, clear ------------------------------------------------------------------------

    it("test_kv_set_and_get", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-set");
      await kvTurn(provider, "kv-set", 1, [kvSet("kv-set", 100, 1, "counter", "42")]);
      expect(await read(provider, "kv-set", "counter")).toBe("42");
    });

    it("test_kv_overwrite", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-over");
      await kvTurn(provider, "kv-over", 1, [kvSet("kv-over", 100, 1, "status", "old")]);
      expect(await read(provider, "kv-over", "status"), "initial value").toBe("old");
      await kvTurn(provider, "kv-over", 1, [kvSet("kv-over", 101, 1, "status", "new")]);
      expect(await read(provider, "kv-over", "status"), "overwritten value").toBe("new");
    });

    it("test_kv_clear_single", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-clr1");
      await kvTurn(provider, "kv-clr1", 1, [kvSet("kv-clr1", 100, 1, "remove_me", "x")]);
      expect(await read(provider, "kv-clr1", "remove_me"), "set before clearing").toBe("x");
      await kvTurn(provider, "kv-clr1", 1, [kvClear("kv-clr1", 101, 1, "remove_me")]);
      expect(await read(provider, "kv-clr1", "remove_me")).toBeNull();
    });

    it("test_kv_clear_all", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-clra");
      await kvTurn(provider, "kv-clra", 1, [
        kvSet("kv-clra", 100, 1, "a", "1"),
        kvSet("kv-clra", 101, 1, "b", "2"),
      ]);
      expect(await read(provider, "kv-clra", "a")).toBe("1");
      expect(await read(provider, "kv-clra", "b")).toBe("2");
      await kvTurn(provider, "kv-clra", 1, [kvClearAll("kv-clra", 102, 1)]);
      expect(await read(provider, "kv-clra", "a")).toBeNull();
      expect(await read(provider, "kv-clra", "b")).toBeNull();
    });

    it("test_kv_get_nonexistent", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-none");
      expect(await read(provider, "kv-none", "nope")).toBeNull();
    });

    // -- the fetch snapshot ---------------------------------------------------------------------------

    it("test_kv_snapshot_in_fetch", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-fetch");
      await kvTurn(provider, "kv-fetch", 1, [
        kvSet("kv-fetch", 100, 1, "x", "10"),
        kvSet("kv-fetch", 101, 1, "y", "20"),
      ]);
      await completeExecution(provider, "kv-fetch", 1);
      expect(await fetchKvSnapshot(provider, "kv-fetch", 1)).toEqual(
        new Map([
          ["x", "10"],
          ["y", "20"],
        ]),
      );
    });

    it("test_kv_snapshot_after_clear_single", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-fclr1");
      await kvTurn(provider, "kv-fclr1", 1, [
        kvSet("kv-fclr1", 100, 1, "keep", "yes"),
        kvSet("kv-fclr1", 101, 1, "remove", "bye"),
      ]);
      await kvTurn(provider, "kv-fclr1", 1, [kvClear("kv-fclr1", 102, 1, "remove")]);
      await completeExecution(provider, "kv-fclr1", 1);
      expect(await fetchKvSnapshot(provider, "kv-fclr1", 1)).toEqual(new Map([["keep", "yes"]]));
    });

    it("test_kv_snapshot_after_clear_all", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-fclra");
      await kvTurn(provider, "kv-fclra", 1, [
        kvSet("kv-fclra", 100, 1, "a", "1"),
        kvSet("kv-fclra", 101, 1, "b", "2"),
      ]);
      await kvTurn(provider, "kv-fclra", 1, [kvClearAll("kv-fclra", 102, 1)]);
      expect(await fetchKvSnapshot(provider, "kv-fclra", 1)).toEqual(new Map());
    });

    // -- across executions and pruning ------------------------------------------------------------------

    it("test_kv_execution_id_tracking", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-exec");
      await kvTurn(provider, "kv-exec", 1, [kvSet("kv-exec", 100, 1, "shared", "from_exec_1")]);
      expect(await read(provider, "kv-exec", "shared")).toBe("from_exec_1");

      await continueAsNewTo(provider, "kv-exec", 2);
      await kvTurn(provider, "kv-exec", 2, [kvSet("kv-exec", 200, 2, "shared", "from_exec_2")]);
      expect(await read(provider, "kv-exec", "shared")).toBe("from_exec_2");

      await admin(provider).pruneExecutions("kv-exec", { keepLast: 1 });
      expect(
        await read(provider, "kv-exec", "shared"),
        "the key survives pruning (its last writer, execution 2, is kept)",
      ).toBe("from_exec_2");
    });

    it("test_kv_cross_execution_overwrite", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-xexec");
      await kvTurn(provider, "kv-xexec", 1, [kvSet("kv-xexec", 100, 1, "k", "v1")]);
      expect(await read(provider, "kv-xexec", "k")).toBe("v1");
      await continueAsNewTo(provider, "kv-xexec", 2);
      await kvTurn(provider, "kv-xexec", 2, [kvSet("kv-xexec", 200, 2, "k", "v2")]);
      expect(await read(provider, "kv-xexec", "k"), "execution 2 overwrites execution 1").toBe("v2");
    });

    it("test_kv_cross_execution_remove_readd", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-xrm");
      await kvTurn(provider, "kv-xrm", 1, [kvSet("kv-xrm", 100, 1, "cycle", "exec1")]);
      expect(await read(provider, "kv-xrm", "cycle")).toBe("exec1");

      await continueAsNewTo(provider, "kv-xrm", 2);
      await kvTurn(provider, "kv-xrm", 2, [kvClear("kv-xrm", 200, 2, "cycle")]);
      expect(await read(provider, "kv-xrm", "cycle"), "cleared in execution 2").toBeNull();

      await continueAsNewTo(provider, "kv-xrm", 3);
      await kvTurn(provider, "kv-xrm", 3, [kvSet("kv-xrm", 300, 3, "cycle", "exec3")]);
      expect(await read(provider, "kv-xrm", "cycle"), "set again in execution 3").toBe("exec3");
    });

    it("test_kv_prune_preserves_overwritten", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-prn1");
      await kvTurn(provider, "kv-prn1", 1, [kvSet("kv-prn1", 100, 1, "survive", "v1")]);
      await continueAsNewTo(provider, "kv-prn1", 2);
      await kvTurn(provider, "kv-prn1", 2, [kvSet("kv-prn1", 200, 2, "survive", "v2")]);
      await admin(provider).pruneExecutions("kv-prn1", { keepLast: 1 });
      expect(await read(provider, "kv-prn1", "survive"), "the overwritten key survives pruning").toBe("v2");
    });

    it("test_kv_prune_preserves_all_keys", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-prn2");
      await kvTurn(provider, "kv-prn2", 1, [kvSet("kv-prn2", 100, 1, "orphan", "survives")]);
      await continueAsNewTo(provider, "kv-prn2", 2);
      await kvTurn(provider, "kv-prn2", 2, [kvSet("kv-prn2", 200, 2, "keeper", "alive")]);
      expect(await read(provider, "kv-prn2", "orphan")).toBe("survives");
      expect(await read(provider, "kv-prn2", "keeper")).toBe("alive");

      await admin(provider).pruneExecutions("kv-prn2", { keepLast: 1 });
      expect(
        await read(provider, "kv-prn2", "orphan"),
        "a key written only by the pruned execution survives (KV is instance-scoped)",
      ).toBe("survives");
      expect(await read(provider, "kv-prn2", "keeper")).toBe("alive");
    });

    // -- isolation and deletion -------------------------------------------------------------------------

    it("test_kv_instance_isolation", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-iso-a");
      await createInstance(provider, "kv-iso-b");
      await kvTurn(provider, "kv-iso-a", 1, [kvSet("kv-iso-a", 100, 1, "shared_name", "from_a")]);
      await kvTurn(provider, "kv-iso-b", 1, [kvSet("kv-iso-b", 100, 1, "shared_name", "from_b")]);
      expect(await read(provider, "kv-iso-a", "shared_name")).toBe("from_a");
      expect(await read(provider, "kv-iso-b", "shared_name")).toBe("from_b");
    });

    it("test_kv_delete_instance_cascades", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-del");
      await kvTurn(provider, "kv-del", 1, [kvSet("kv-del", 100, 1, "doomed", "bye")]);
      await completeExecution(provider, "kv-del", 1);
      expect(await read(provider, "kv-del", "doomed"), "present before deletion").toBe("bye");

      await admin(provider).deleteInstance("kv-del", false);
      expect(await read(provider, "kv-del", "doomed"), "gone with the instance").toBeNull();
    });

    it("test_kv_clear_nonexistent_key", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-clrne");
      await kvTurn(provider, "kv-clrne", 1, [kvClear("kv-clrne", 100, 1, "never_existed")]);
      expect(await read(provider, "kv-clrne", "never_existed")).toBeNull();
    });

    it("test_kv_get_unknown_instance", async () => {
      const provider = await factory.createProvider();
      expect(await read(provider, "no-such-instance", "key")).toBeNull();
    });

    it("test_kv_set_after_clear", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-sac");
      await kvTurn(provider, "kv-sac", 1, [
        kvSet("kv-sac", 100, 1, "old_a", "1"),
        kvSet("kv-sac", 101, 1, "old_b", "2"),
      ]);
      // One delta: clear everything, then set a new key — applied in order.
      await kvTurn(provider, "kv-sac", 1, [
        kvClearAll("kv-sac", 102, 1),
        kvSet("kv-sac", 103, 1, "new_x", "fresh"),
      ]);
      expect(await read(provider, "kv-sac", "old_a")).toBeNull();
      expect(await read(provider, "kv-sac", "old_b")).toBeNull();
      expect(await read(provider, "kv-sac", "new_x")).toBe("fresh");
    });

    // -- values and keys --------------------------------------------------------------------------------

    it("test_kv_empty_value", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-empty");
      await kvTurn(provider, "kv-empty", 1, [kvSet("kv-empty", 100, 1, "blank", "")]);
      expect(await read(provider, "kv-empty", "blank"), "an empty string is a value, not null").toBe("");
    });

    it("test_kv_large_value", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-big");
      const big = "x".repeat(16 * 1024);
      await kvTurn(provider, "kv-big", 1, [kvSet("kv-big", 100, 1, "payload", big)]);
      expect(await read(provider, "kv-big", "payload")).toBe(big);
    });

    it("test_kv_special_chars_in_key", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-chars");
      const entries: [string, string][] = [
        ["key with spaces", "v1"],
        ["日本語キー", "v2"],
        ["dotted.key.name", "v3"],
        ["path/like/key", "v4"],
        ["emoji🎉key", "v5"],
      ];
      await kvTurn(
        provider,
        "kv-chars",
        1,
        entries.map(([key, value], i) => kvSet("kv-chars", 100 + i, 1, key, value)),
      );
      for (const [key, value] of entries) {
        expect(await read(provider, "kv-chars", key), `key "${key}"`).toBe(value);
      }
    });

    it("test_kv_snapshot_empty", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-sempty");
      expect(await fetchKvSnapshot(provider, "kv-sempty", 1)).toEqual(new Map());
    });

    it("test_kv_snapshot_cross_execution", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-scross");
      await kvTurn(provider, "kv-scross", 1, [kvSet("kv-scross", 100, 1, "A", "from_exec1")]);
      await continueAsNewTo(provider, "kv-scross", 2);
      await kvTurn(provider, "kv-scross", 2, [kvSet("kv-scross", 200, 2, "B", "from_exec2")]);
      // B is the running execution's state (replay rebuilds it): only prior executions' state is in it.
      expect(await fetchKvSnapshot(provider, "kv-scross", 2)).toEqual(new Map([["A", "from_exec1"]]));
    });

    it("test_kv_prune_current_execution_protected", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-prncur");
      await kvTurn(provider, "kv-prncur", 1, [kvSet("kv-prncur", 100, 1, "alive", "yes")]);
      await admin(provider).pruneExecutions("kv-prncur", { keepLast: 1 });
      expect(await read(provider, "kv-prncur", "alive"), "the current execution's KV survives").toBe("yes");
    });

    it("test_kv_delete_instance_with_children", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-parent");
      await kvTurn(provider, "kv-parent", 1, [kvSet("kv-parent", 100, 1, "parent_key", "parent_val")]);

      // A child of kv-parent, with its own key.
      const childOf = { parentInstance: "kv-parent", parentId: 1 };
      await provider.enqueueForOrchestrator(startItem("kv-child", childOf), null);
      const childTurn = await expectOrchestrationItem(provider);
      expect(childTurn.item.instance).toBe("kv-child");
      await ack(provider, childTurn.lockToken, {
        events: [startedEvent("kv-child", 1, childOf)],
        metadata: testMetadata({ parentInstanceId: "kv-parent" }),
      });
      await kvTurn(provider, "kv-child", 1, [kvSet("kv-child", 100, 1, "child_key", "child_val")]);

      await completeExecution(provider, "kv-child", 1);
      await completeExecution(provider, "kv-parent", 1);
      await admin(provider).deleteInstance("kv-parent", false);

      expect(await read(provider, "kv-parent", "parent_key"), "the parent's KV is removed").toBeNull();
      expect(await read(provider, "kv-child", "child_key"), "the child's KV goes with its root").toBeNull();
    });

    it("test_kv_clear_isolation", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-ciso-a");
      await createInstance(provider, "kv-ciso-b");
      await kvTurn(provider, "kv-ciso-a", 1, [kvSet("kv-ciso-a", 100, 1, "shared", "from_a")]);
      await kvTurn(provider, "kv-ciso-b", 1, [kvSet("kv-ciso-b", 100, 1, "shared", "from_b")]);
      await kvTurn(provider, "kv-ciso-a", 1, [kvClearAll("kv-ciso-a", 101, 1)]);
      expect(await read(provider, "kv-ciso-a", "shared")).toBeNull();
      expect(await read(provider, "kv-ciso-b", "shared"), "clearing A leaves B alone").toBe("from_b");
    });

    // -- the current-execution delta ----------------------------------------------------------------------

    it("test_kv_delta_snapshot_excludes_current_execution", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-ds1");
      await kvTurn(provider, "kv-ds1", 1, [kvSet("kv-ds1", 100, 1, "counter", "1", 100)]);
      expect(await read(provider, "kv-ds1", "counter"), "the client read sees the running value").toBe("1");
      expect(
        await fetchKvSnapshot(provider, "kv-ds1", 1),
        "the snapshot must not carry the running execution's value",
      ).toEqual(new Map());
    });

    it("test_kv_delta_snapshot_includes_completed_execution", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-ds2");
      await kvTurn(provider, "kv-ds2", 1, [kvSet("kv-ds2", 100, 1, "counter", "5", 100)]);
      await continueAsNewTo(provider, "kv-ds2", 2);
      const snapshot = await fetchKvSnapshot(provider, "kv-ds2", 2);
      expect(snapshot.get("counter"), "the prior execution's value is in the snapshot").toBe("5");
    });

    it("test_kv_delta_client_reads_merged", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-dm");
      await kvTurn(provider, "kv-dm", 1, [
        kvSet("kv-dm", 100, 1, "color", "red", 100),
        kvSet("kv-dm", 101, 1, "size", "large", 101),
      ]);
      await completeExecution(provider, "kv-dm", 1);
      // Execution 2 writes over the merged store.
      await kvTurn(provider, "kv-dm", 2, [
        kvSet("kv-dm", 200, 2, "color", "blue", 200),
        kvSet("kv-dm", 201, 2, "shape", "circle", 201),
      ]);
      expect(await read(provider, "kv-dm", "color"), "the delta overrides the store").toBe("blue");
      expect(await read(provider, "kv-dm", "size"), "a store-only key is visible").toBe("large");
      expect(await read(provider, "kv-dm", "shape"), "a delta-only key is visible").toBe("circle");
    });

    it("test_kv_delta_tombstone_overrides_store", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-dt");
      await kvTurn(provider, "kv-dt", 1, [kvSet("kv-dt", 100, 1, "temp", "exists", 100)]);
      await completeExecution(provider, "kv-dt", 1);
      await kvTurn(provider, "kv-dt", 2, [kvClear("kv-dt", 200, 2, "temp")]);
      expect(
        await read(provider, "kv-dt", "temp"),
        "the delta's tombstone beats the stored value",
      ).toBeNull();
    });

    it("test_kv_delta_clear_all_tombstones_store", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-dca");
      await kvTurn(provider, "kv-dca", 1, [
        kvSet("kv-dca", 100, 1, "a", "1", 100),
        kvSet("kv-dca", 101, 1, "b", "2", 101),
      ]);
      await completeExecution(provider, "kv-dca", 1);
      await kvTurn(provider, "kv-dca", 2, [
        kvClearAll("kv-dca", 200, 2),
        kvSet("kv-dca", 201, 2, "c", "3", 201),
      ]);
      expect(await read(provider, "kv-dca", "a"), "clear-all tombstones stored key a").toBeNull();
      expect(await read(provider, "kv-dca", "b"), "clear-all tombstones stored key b").toBeNull();
      expect(await read(provider, "kv-dca", "c"), "the key set after clear-all").toBe("3");
    });

    it("test_kv_delta_merged_on_completion", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-dmc");
      await kvTurn(provider, "kv-dmc", 1, [kvSet("kv-dmc", 100, 1, "result", "42", 100)]);
      await completeExecution(provider, "kv-dmc", 1);
      expect(await read(provider, "kv-dmc", "result"), "merged into the store on completion").toBe("42");
    });

    it("test_kv_delta_merged_on_can", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-dmc2");
      await kvTurn(provider, "kv-dmc2", 1, [
        kvSet("kv-dmc2", 100, 1, "version", "1", 100),
        kvSet("kv-dmc2", 101, 1, "progress", "50%", 101),
      ]);
      await kvTurn(provider, "kv-dmc2", 1, [kvSet("kv-dmc2", 102, 1, "progress", "100%", 102)]);
      await continueAsNewTo(provider, "kv-dmc2", 2);

      const snapshot = await fetchKvSnapshot(provider, "kv-dmc2", 2);
      expect(snapshot.get("version"), "carried over by the continue-as-new merge").toBe("1");
      expect(snapshot.get("progress"), "the latest value carries over").toBe("100%");
    });

    it("test_kv_delta_delete_instance_cascades", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-ddel");
      await kvTurn(provider, "kv-ddel", 1, [kvSet("kv-ddel", 100, 1, "data", "important", 100)]);
      expect(await read(provider, "kv-ddel", "data")).toBe("important");
      await admin(provider).deleteInstance("kv-ddel", true);
      expect(await read(provider, "kv-ddel", "data"), "the delta goes with the instance").toBeNull();
    });

    it("test_kv_delta_prune_untouched_key_survives", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "kv-dprn");
      await kvTurn(provider, "kv-dprn", 1, [kvSet("kv-dprn", 100, 1, "stale_config", "from_exec_1", 100)]);
      await continueAsNewTo(provider, "kv-dprn", 2);
      await kvTurn(provider, "kv-dprn", 2, [kvSet("kv-dprn", 200, 2, "other", "unrelated", 200)]);
      await continueAsNewTo(provider, "kv-dprn", 3);
      expect(await read(provider, "kv-dprn", "stale_config")).toBe("from_exec_1");
      expect(await read(provider, "kv-dprn", "other")).toBe("unrelated");

      await admin(provider).pruneExecutions("kv-dprn", { keepLast: 1 });
      expect(await read(provider, "kv-dprn", "stale_config"), "a key from pruned execution 1 survives").toBe(
        "from_exec_1",
      );
      expect(await read(provider, "kv-dprn", "other"), "a key from pruned execution 2 survives").toBe(
        "unrelated",
      );

      const snapshot = await fetchKvSnapshot(provider, "kv-dprn", 3);
      expect(snapshot.get("stale_config"), "the snapshot keeps the pruned execution's key").toBe(
        "from_exec_1",
      );
      expect(snapshot.get("other")).toBe("unrelated");
    });
  });
}
