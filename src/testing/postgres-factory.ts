/**
 * The validation suite's ProviderFactory for PostgresProvider: every createProvider() is a fresh,
 * migrated schema with its own small pool; cleanup() drops them all. Use inside vitest (the database
 * URL comes from the global setup unless given).
 */
import pg from "pg";
import { migrate, quoteSchema } from "../migrate/migrations.ts";
import { PostgresProvider } from "../provider/postgres-provider.ts";
import type { Provider } from "../provider/types.ts";
import type { ProviderFactory } from "../validation/factory.ts";
import { testDatabaseUrl, uniqueSchemaName } from "./test-schema.ts";

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
}

interface CreatedStore {
  provider: PostgresProvider;
  pool: pg.Pool;
  schema: string;
}

/** A ProviderFactory that certifies PostgresProvider, one throwaway schema per provider. */
export function postgresValidationFactory(options: PostgresValidationFactoryOptions = {}): ProviderFactory {
  const stores = new Map<Provider, CreatedStore>();

  function storeOf(provider: Provider): CreatedStore {
    const store = stores.get(provider);
    if (!store) throw new Error("provider was not created by this factory (or was already cleaned up)");
    return store;
  }

  const longPolling = options.longPolling ?? false;

  return {
    lockTimeoutMs: options.lockTimeoutMs ?? 1000,
    shortPollThresholdMs: options.shortPollThresholdMs ?? 250,
    longPolling,

    async createProvider(): Promise<Provider> {
      const schema = uniqueSchemaName("validation");
      const pool = new pg.Pool({
        connectionString: options.databaseUrl ?? testDatabaseUrl(),
        max: options.poolSize ?? 5,
      });
      try {
        await migrate(pool, schema);
        const provider = await PostgresProvider.create({ pool, schema, longPoll: longPolling });
        stores.set(provider, { provider, pool, schema });
        return provider;
      } catch (error) {
        await pool.query(`DROP SCHEMA IF EXISTS ${quoteSchema(schema)} CASCADE`).catch(() => undefined);
        await pool.end();
        throw error;
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
          await pool.query(`DROP SCHEMA IF EXISTS ${quoteSchema(schema)} CASCADE`);
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
