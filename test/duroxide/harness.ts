/**
 * Set-up for the pg-durable/duroxide tests: a provider made the duroxide-node way
 * (PostgresProvider.connectWithSchema, which migrates) on a fresh schema, runtimes with the
 * options duroxide-node's own e2e tests use, and teardown that drops the schema.
 */
import pg from "pg";
import { Client, PostgresProvider, Runtime, type RuntimeOptions } from "pg-durable/duroxide";
import { quoteSchema } from "../../src/migrate/migrations.ts";
import { testDatabaseUrl, uniqueSchemaName } from "../../src/testing/test-schema.ts";

/** duroxide-node's e2e tests run with a 50 ms poll interval; logs are off here ("off" is tracing's name). */
export const TEST_OPTIONS: RuntimeOptions = { dispatcherPollIntervalMs: 50, logLevel: "off" };

export interface DuroxideHarness {
  url: string;
  schema: string;
  provider: PostgresProvider;
  client: Client;
  /** A runtime on the harness provider (not started); shut down by close(). */
  runtime(options?: RuntimeOptions): Runtime;
  /** A fresh instance id. */
  id(name: string): string;
  close(): Promise<void>;
}

export async function createDuroxideHarness(prefix = "dx"): Promise<DuroxideHarness> {
  const url = testDatabaseUrl();
  const schema = uniqueSchemaName(prefix);
  const provider = await PostgresProvider.connectWithSchema(url, schema);
  const runtimes: Runtime[] = [];
  let n = 0;
  return {
    url,
    schema,
    provider,
    client: new Client(provider),
    runtime(options = {}) {
      const rt = new Runtime(provider, { ...TEST_OPTIONS, ...options });
      runtimes.push(rt);
      return rt;
    },
    id: (name) => `${name}-${++n}-${Date.now().toString(36)}`,
    async close() {
      await Promise.all(runtimes.map((rt) => rt.shutdown(100)));
      await provider.close();
      const pool = new pg.Pool({ connectionString: url, max: 1 });
      try {
        await pool.query(`DROP SCHEMA IF EXISTS ${quoteSchema(schema)} CASCADE`);
      } finally {
        await pool.end();
      }
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll `check` until it returns a truthy value; fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(25);
  }
}
