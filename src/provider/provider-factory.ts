/**
 * What a provider implementation hands the validation suite (`pg-durable/validation`) to certify
 * itself. It lives with the provider contract, not with the suite, so an implementation (such as
 * src/testing/postgres-factory.ts) depends on the library only.
 */
import type { Provider } from "./types.ts";

/** A clock the suite can move forward (epoch ms). */
export interface AdvanceableClock {
  /** The time every provider of the factory passes to its store as "now". */
  now(): number;
  /** Move now() forward by `ms` (never back); real time keeps flowing on top. */
  advance(ms: number): void;
}

export interface ProviderFactory {
  /** A fresh, isolated provider (empty store). Called once or more per test. */
  createProvider(): Promise<Provider>;
  /** Release what createProvider made (drop its schema, close its pool). Called after each test. */
  cleanup(): Promise<void>;
  /**
   * Optional: the clock every provider of this factory uses as "now". With it the suite moves time
   * past lock expiry, visibility delays and session idle windows instead of sleeping through them;
   * without it the suite sleeps. Waits that measure the provider itself (poll timeouts, concurrent
   * interleavings) always use real time.
   */
  clock?: AdvanceableClock;
  /** Lock timeout the suite uses for tests that wait past expiry. */
  lockTimeoutMs: number;
  /** An empty short-poll fetch must return faster than this. */
  shortPollThresholdMs: number;
  /** True when fetches wait up to pollTimeoutMs for work (long polling). */
  longPolling: boolean;
  /** Replace every stored history event of `instance` with undecodable data (valid JSON, not an Event). */
  corruptInstanceHistory(provider: Provider, instance: string): Promise<void>;
  /** Maximum attempt_count over the instance's orchestrator-queue rows. */
  getMaxAttemptCount(provider: Provider, instance: string): Promise<number>;
}
