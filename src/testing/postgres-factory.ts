/**
 * The validation suite's ProviderFactory for PostgresProvider: every createProvider() gets an empty,
 * migrated schema (from a SchemaPool: installed once per test file, truncated between tests) with its
 * own small pool, on an advanceable clock; cleanup() closes them and gives the schemas back. Use
 * inside vitest (the database URL comes from the global setup unless given).
 */
import pg from "pg";
import { afterAll } from "vitest";
import { quoteSchema } from "../migrate/migrations.ts";
import { PostgresProvider } from "../provider/postgres-provider.ts";
import type { ProviderFactory } from "../provider/provider-factory.ts";
import type { Provider } from "../provider/types.ts";
import { advanceableClock } from "./advanceable-clock.ts";
import { SchemaPool } from "./schema-pool.ts";
import { testDatabaseUrl } from "./test-schema.ts";

export interface PostgresValidationFactoryOptions {
  /** Database to create schemas in. Default: the test run's database (DATABASE_URL or embedded). */
  databaseUrl?: string;
  /** Connections per provider. Default 5 (concurrency tests run ~10 fetches at once). */
  poolSize?: number;
  /** Lock timeout for tests that sleep past expiry. Default 1000 ms, which keeps the suite fast. */
  lockTimeoutMs?: number;
  /** An empty short-poll fetch must return faster than this. Default 250 ms. */
  shortPollThresholdMs?: number;
  /**
   * Whether the providers long-poll (PostgresProvider's `longPoll`, LISTEN/NOTIFY wake-ups). Default
   * false: fetches return at once, and no extra listening connection is opened per provider.
   */
  longPolling?: boolean;
  /**
   * Whether the providers run on an advanceable clock the suite moves past lock expiry (default true).
   * false: they use Date.now and the suite sleeps through every wait, as against a real deployment.
   */
  advanceableClock?: boolean;
}

interface CreatedStore {
  provider: PostgresProvider;
  pool: pg.Pool;
  schema: string;
}

/**
 * A ProviderFactory that certifies PostgresProvider: each provider gets a migrated schema of its own
 * (a pooled one, emptied after the test that used it) and a pool; call it at a test file's top level
 * or inside a describe (it registers an afterAll that drops the schemas).
 */
export function postgresValidationFactory(options: PostgresValidationFactoryOptions = {}): ProviderFactory {
  const stores = new Map<Provider, CreatedStore>();

  function storeOf(provider: Provider): CreatedStore {
    const store = stores.get(provider);
    if (!store) throw new Error("provider was not created by this factory (or was already cleaned up)");
    return store;
  }

  const longPolling = options.longPolling ?? false;
  const databaseUrl = () => options.databaseUrl ?? testDatabaseUrl();
  // Migrated once, emptied between tests; dropped when the test file ends.
  let schemas: SchemaPool | undefined;
  afterAll(async () => {
    await schemas?.dispose();
  });
  // One clock for every provider of the factory: a test's providers agree on the time.
  const clock = (options.advanceableClock ?? true) ? advanceableClock() : undefined;

  return {
    lockTimeoutMs: options.lockTimeoutMs ?? 1000,
    shortPollThresholdMs: options.shortPollThresholdMs ?? 250,
    longPolling,
    clock,

    async createProvider(): Promise<Provider> {
      schemas ??= new SchemaPool(databaseUrl(), "validation");
      const schema = await schemas.acquire();
      const pool = new pg.Pool({ connectionString: databaseUrl(), max: options.poolSize ?? 5 });
      try {
        const provider = await PostgresProvider.create({
          pool,
          schema,
          longPoll: longPolling,
          clock: clock?.now,
        });
        stores.set(provider, { provider, pool, schema });
        return provider;
      } catch (error) {
        await pool.end();
        throw error; // the schema is not handed out again; the file's afterAll drops it
      }
    },

    async cleanup(): Promise<void> {
      const created = [...stores.values()];
      stores.clear();
      const failures: unknown[] = [];
      for (const { provider, pool, schema } of created) {
        try {
          // Stops anything the provider runs beside the pool (e.g. a wake-up listener); the pool is ours.
          await provider.close();
          await schemas!.release(pool, schema);
        } catch (error) {
          failures.push(error);
        } finally {
          await pool.end();
        }
      }
      if (failures.length > 0) throw failures[0];
    },

    async corruptInstanceHistory(provider: Provider, instance: string): Promise<void> {
      const { pool, schema } = storeOf(provider);
      // Valid JSON that is not an Event: the strict decoder must reject it.
      await pool.query(
        `UPDATE ${quoteSchema(schema)}.history SET event_data = '{"garbage": true}' WHERE instance_id = $1`,
        [instance],
      );
    },

    async getMaxAttemptCount(provider: Provider, instance: string): Promise<number> {
      const { pool, schema } = storeOf(provider);
      const { rows } = await pool.query<{ max: number | null }>(
        `SELECT max(attempt_count)::int AS max FROM ${quoteSchema(schema)}.orchestrator_queue WHERE instance_id = $1`,
        [instance],
      );
      return rows[0]?.max ?? 0;
    },
  };
}
