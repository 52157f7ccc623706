/**
 * long_polling: a short-poll provider answers an empty fetch at once whatever pollTimeout says; a
 * long-poll provider waits the full pollTimeout; nobody overshoots it. factory.longPolling picks
 * which pair of tests applies (the other pair is not registered, as in duroxide-pg).
 */

import type { ProviderFactory } from "pg-durable";
import { afterEach, describe, expect, it } from "vitest";
import { defaultOnly, HOLD_LOCK_MS } from "./helpers.ts";

/** Run `fetch` and return what it returned plus how long it took. */
async function timed<T>(fetch: () => Promise<T>): Promise<{ result: T; elapsedMs: number }> {
  const start = performance.now();
  const result = await fetch();
  return { result, elapsedMs: performance.now() - start };
}

export function registerLongPollingTests(factory: ProviderFactory): void {
  describe("long_polling", () => {
    afterEach(() => factory.cleanup());

    if (!factory.longPolling) {
      it("test_short_poll_returns_immediately", async () => {
        const provider = await factory.createProvider();
        const { result, elapsedMs } = await timed(() =>
          provider.fetchOrchestrationItem(HOLD_LOCK_MS, 500, null),
        );
        expect(result, "the queue is empty").toBeNull();
        expect(elapsedMs, "a short-poll provider ignores pollTimeout").toBeLessThan(
          factory.shortPollThresholdMs,
        );
      });

      it("test_short_poll_work_item_returns_immediately", async () => {
        const provider = await factory.createProvider();
        const { result, elapsedMs } = await timed(() =>
          provider.fetchWorkItem(HOLD_LOCK_MS, 500, null, defaultOnly()),
        );
        expect(result, "the worker queue is empty").toBeNull();
        expect(elapsedMs, "a short-poll provider ignores pollTimeout").toBeLessThan(
          factory.shortPollThresholdMs,
        );
      });
    } else {
      it("test_long_poll_waits_for_timeout", async () => {
        const provider = await factory.createProvider();
        const { result, elapsedMs } = await timed(() =>
          provider.fetchOrchestrationItem(HOLD_LOCK_MS, 500, null),
        );
        expect(result, "the queue is empty").toBeNull();
        expect(elapsedMs, "a long-poll provider waits the whole pollTimeout").toBeGreaterThanOrEqual(500);
      });

      it("test_long_poll_work_item_waits_for_timeout", async () => {
        const provider = await factory.createProvider();
        const { result, elapsedMs } = await timed(() =>
          provider.fetchWorkItem(HOLD_LOCK_MS, 500, null, defaultOnly()),
        );
        expect(result, "the worker queue is empty").toBeNull();
        expect(elapsedMs, "a long-poll provider waits the whole pollTimeout").toBeGreaterThanOrEqual(500);
      });
    }

    it("test_fetch_respects_timeout_upper_bound", async () => {
      const provider = await factory.createProvider();
      const pollTimeoutMs = 300;
      const toleranceMs = 200;
      const { result, elapsedMs } = await timed(() =>
        provider.fetchOrchestrationItem(HOLD_LOCK_MS, pollTimeoutMs, null),
      );
      expect(result, "the queue is empty").toBeNull();
      expect(elapsedMs, "no fetch may block much beyond pollTimeout").toBeLessThan(
        pollTimeoutMs + toleranceMs,
      );
    });
  });
}
