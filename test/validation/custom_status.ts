/**
 * custom_status (7): the instance's custom status is driven by CustomStatusUpdated events in an
 * ack's delta (last one wins, one version step per ack) and read with a change detector.
 */

import type { Provider, ProviderFactory } from "pg-durable";
import { afterEach, describe, expect, it } from "vitest";
import { createInstance, customStatusEvent, externalEvent, runTurn } from "./helpers.ts";

/** A turn whose delta carries one CustomStatusUpdated at `eventId`. */
function setStatus(provider: Provider, instance: string, eventId: number, status: string | null) {
  return runTurn(provider, instance, { events: [customStatusEvent(instance, eventId, status)] });
}

export function registerCustomStatusTests(factory: ProviderFactory): void {
  describe("custom_status", () => {
    afterEach(() => factory.cleanup());

    it("test_custom_status_set", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "cs-set");
      await setStatus(provider, "cs-set", 2, "progress");
      expect(await provider.getCustomStatus("cs-set", 0)).toEqual({ customStatus: "progress", version: 1 });
    });

    it("test_custom_status_clear", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "cs-clear");
      await setStatus(provider, "cs-clear", 2, "temp");
      expect(await provider.getCustomStatus("cs-clear", 0)).toEqual({ customStatus: "temp", version: 1 });
      await setStatus(provider, "cs-clear", 3, null);
      expect(await provider.getCustomStatus("cs-clear", 0)).toEqual({ customStatus: null, version: 2 });
    });

    it("test_custom_status_none_preserves", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "cs-keep");
      await setStatus(provider, "cs-keep", 2, "keep-me");
      // A turn without any custom-status event leaves status and version alone.
      await runTurn(provider, "cs-keep", { events: [externalEvent("cs-keep", 3, "poke", "{}")] });
      expect(await provider.getCustomStatus("cs-keep", 0)).toEqual({ customStatus: "keep-me", version: 1 });
    });

    it("test_custom_status_version_increments", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "cs-versions");
      await setStatus(provider, "cs-versions", 2, "a");
      expect(await provider.getCustomStatus("cs-versions", 0)).toEqual({ customStatus: "a", version: 1 });
      await setStatus(provider, "cs-versions", 3, "b");
      expect(await provider.getCustomStatus("cs-versions", 0)).toEqual({ customStatus: "b", version: 2 });
      await setStatus(provider, "cs-versions", 4, null);
      expect(await provider.getCustomStatus("cs-versions", 0)).toEqual({ customStatus: null, version: 3 });
    });

    it("test_custom_status_polling_no_change", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "cs-poll");
      await setStatus(provider, "cs-poll", 2, "once");
      expect(await provider.getCustomStatus("cs-poll", 1)).toBeNull();
      expect(await provider.getCustomStatus("cs-poll", 0)).toEqual({ customStatus: "once", version: 1 });
    });

    it("test_custom_status_nonexistent_instance", async () => {
      const provider = await factory.createProvider();
      expect(await provider.getCustomStatus("no-such-instance", 0)).toBeNull();
    });

    it("test_custom_status_default_on_new_instance", async () => {
      const provider = await factory.createProvider();
      await createInstance(provider, "cs-fresh");
      expect(await provider.getCustomStatus("cs-fresh", 0)).toBeNull();
    });
  });
}
