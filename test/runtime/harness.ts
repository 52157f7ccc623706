/**
 * Shared set-up for the runtime's end-to-end tests: a fresh migrated schema, a PostgresProvider on
 * it, runtimes with short poll intervals, and a client. Everything is torn down by `close()`.
 */
import pg from "pg";
import { PostgresProvider } from "../../src/provider/postgres-provider.ts";
import type { Event } from "../../src/provider/types.ts";
import { Client } from "../../src/runtime/client.ts";
import type { RuntimeOptions } from "../../src/runtime/options.ts";
import { Runtime } from "../../src/runtime/runtime.ts";
import { createTestSchema, type TestSchema } from "../../src/testing/test-schema.ts";

/** Fast settings for tests: short idle sleeps, short provider waits, quiet logs. */
export const FAST: RuntimeOptions = {
  dispatcherMinPollIntervalMs: 10,
  dispatcherLongPollTimeoutMs: 200,
  logLevel: "error",
};

export interface Harness {
  db: TestSchema;
  provider: PostgresProvider;
  client: Client;
  /** A runtime on the harness provider (not started); stopped by close(). */
  runtime(options?: RuntimeOptions): Runtime;
  /** A runtime with its own provider (and pool), like another process would have. */
  separateRuntime(options?: RuntimeOptions): Promise<Runtime>;
  history(instance: string): Promise<Event[]>;
  close(): Promise<void>;
}

export async function createHarness(prefix = "rt"): Promise<Harness> {
  const db = await createTestSchema({ prefix });
  const pools: pg.Pool[] = [];
  const providers: PostgresProvider[] = [];
  const newProvider = async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 8 });
    pools.push(pool);
    const created = await PostgresProvider.create({ pool, schema: db.schema });
    providers.push(created);
    return created;
  };
  const provider = await newProvider();
  const runtimes: Runtime[] = [];
  return {
    db,
    provider,
    client: new Client(provider),
    runtime(options = {}) {
      const rt = new Runtime(provider, { ...FAST, ...options });
      runtimes.push(rt);
      return rt;
    },
    async separateRuntime(options = {}) {
      const rt = new Runtime(await newProvider(), { ...FAST, ...options });
      runtimes.push(rt);
      return rt;
    },
    history: (instance) => provider.read(instance),
    async close() {
      await Promise.all(runtimes.map((rt) => rt.shutdown(2000)));
      await Promise.all(providers.map((p) => p.close()));
      await Promise.all(pools.map((p) => p.end()));
      await db.drop();
    },
  };
}

/** Event types of a history, for compact assertions. */
export function types(history: readonly Event[]): string[] {
  return history.map((e) => e.type);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll `check` until it returns a truthy value or the time runs out. */
export async function eventually<T>(
  check: () => Promise<T>,
  timeoutMs = 10_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(intervalMs);
  }
}

/** Wait until the instance's current history holds `count` events of `type` (e.g. a subscription). */
export async function waitForHistory(
  h: Harness,
  instance: string,
  type: Event["type"],
  count = 1,
): Promise<Event[]> {
  return (await eventually<Event[] | null>(async () => {
    const history = await h.history(instance);
    return history.filter((e) => e.type === type).length >= count ? history : null;
  }, 20_000)) as Event[];
}
