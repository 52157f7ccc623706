/**
 * The two seams the validation run relies on: a pooled schema comes back empty but migrated, and the
 * advanceable clock moves a provider's notion of "now" (lock expiry) without sleeping.
 */
import pg from "pg";
import { describe, expect, it } from "vitest";
import { migrationStatus } from "../../src/migrate/migrations.ts";
import { PostgresProvider } from "../../src/provider/postgres-provider.ts";
import { advanceableClock } from "../../src/testing/advanceable-clock.ts";
import { SchemaPool } from "../../src/testing/schema-pool.ts";
import { testDatabaseUrl } from "../../src/testing/test-schema.ts";
import { activityExecute, expectNoWorkItem, expectWorkItem } from "../validation/helpers.ts";

describe("test support", () => {
  it("a released schema is handed out again, emptied and still fully migrated", async () => {
    const url = testDatabaseUrl();
    const schemas = new SchemaPool(url, "pooltest");
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    try {
      const schema = await schemas.acquire();
      const provider = await PostgresProvider.create({ pool, schema });
      await provider.enqueueForWorker(activityExecute("pooled-instance", 1, "Activity"));
      await provider.close();
      await schemas.release(pool, schema);

      expect(await schemas.acquire(), "the released schema is reused").toBe(schema);
      const again = await PostgresProvider.create({ pool, schema });
      await expectNoWorkItem(again); // the queue was emptied
      await again.close();
      const status = await migrationStatus(pool, schema);
      expect(
        status.filter((migration) => !migration.applied),
        "no migration to apply after a reuse",
      ).toEqual([]);
      expect(await schemas.acquire(), "a second acquire while the first is out installs anew").not.toBe(
        schema,
      );
    } finally {
      await pool.end();
      await schemas.dispose();
    }
  });

  it("advancing the clock lets a worker lock lapse without waiting for it", async () => {
    const url = testDatabaseUrl();
    const schemas = new SchemaPool(url, "clocktest");
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    const clock = advanceableClock();
    try {
      const schema = await schemas.acquire();
      const provider = await PostgresProvider.create({ pool, schema, clock: clock.now });
      await provider.enqueueForWorker(activityExecute("clock-instance", 1, "Activity"));
      const started = performance.now();
      await expectWorkItem(provider, { lockTimeoutMs: 60_000 });
      await expectNoWorkItem(provider, { lockTimeoutMs: 60_000 }); // locked for a minute

      clock.advance(60_001);
      const second = await expectWorkItem(provider, { lockTimeoutMs: 60_000 });
      expect(second.attemptCount, "redelivered after the advanced clock passed the lock").toBe(2);
      expect(performance.now() - started, "no real minute went by").toBeLessThan(30_000);
      expect(() => clock.advance(-1)).toThrow(/must be ≥ 0/);
      await provider.close();
    } finally {
      await pool.end();
      await schemas.dispose();
    }
  });
});
