/**
 * What a provider implementation hands the validation suite to certify itself.
 */
import type { Provider } from "../provider/types.ts";

export interface ProviderFactory {
  /** A fresh, isolated provider (empty store). Called once or more per test. */
  createProvider(): Promise<Provider>;
  /** Release what createProvider made (drop its schema, close its pool). Called after each test. */
  cleanup(): Promise<void>;
  /** Lock timeout the suite uses for tests that sleep past expiry. */
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
