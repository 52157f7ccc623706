/**
 * Deleting big trees and bulk-deleting many instances works in bounded memory: the store does
 * the work set-based in SQL and bulk candidates stream through a cursor. Peak RSS is printed
 * for the record; correctness is what is asserted.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { quoteSchema } from "../../src/migrate/migrations.ts";
import { PostgresProvider } from "../../src/provider/postgres-provider.ts";
import { createTestSchema, type TestSchema } from "../../src/testing/test-schema.ts";

let db: TestSchema;
let provider: PostgresProvider;

beforeEach(async () => {
  db = await createTestSchema({ prefix: "bigdel" });
  provider = await PostgresProvider.create({ pool: db.pool, schema: db.schema, longPoll: false });
});

afterEach(async () => {
  await provider.close();
  await db.drop();
});

/** Completed instances `ids`, each with one execution and `events` history rows and a KV key. */
async function seed(rows: { id: string; parent: string | null }[], events = 3): Promise<void> {
  const q = quoteSchema(db.schema);
  const ids = rows.map((r) => r.id);
  const parents = rows.map((r) => r.parent);
  const now = Date.now();
  await db.pool.query(
    `INSERT INTO ${q}.instances (instance_id, orchestration_name, orchestration_version, current_execution_id,
                                 parent_instance_id, created_at_ms, updated_at_ms)
     SELECT id, 'Big', '1.0.0', 1, parent, $3, $3 FROM unnest($1::text[], $2::text[]) AS t(id, parent)`,
    [ids, parents, now],
  );
  await db.pool.query(
    `INSERT INTO ${q}.executions (instance_id, execution_id, status, output, started_at_ms, completed_at_ms)
     SELECT id, 1, 'Completed', '"ok"', $2, $2 FROM unnest($1::text[]) AS id`,
    [ids, now],
  );
  await db.pool.query(
    `INSERT INTO ${q}.history (instance_id, execution_id, event_id, event_type, event_data, created_at_ms)
     SELECT id, 1, n, 'ActivityCompleted', '{"padding":"' || repeat('x', 200) || '"}', $3
       FROM unnest($1::text[]) AS id, generate_series(1, $2::int) AS n`,
    [ids, events, now],
  );
  await db.pool.query(
    `INSERT INTO ${q}.kv_store (instance_id, key, value, execution_id, last_updated_at_ms)
     SELECT id, 'k', 'v', 1, $2 FROM unnest($1::text[]) AS id`,
    [ids, now],
  );
}

async function count(table: string): Promise<number> {
  const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM ${quoteSchema(db.schema)}.${table}`);
  return rows[0].n;
}

const rssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

describe("large deletions", () => {
  it("deletes an instance tree of 1,000 sub-orchestrations in one call", async () => {
    const children = Array.from({ length: 1000 }, (_, i) => ({ id: `root::sub::${i}`, parent: "root" }));
    await seed([{ id: "root", parent: null }, ...children]);
    const before = rssMb();
    const result = await provider.asManagementCapability().deleteInstance("root", false);
    console.log(`tree delete of 1,001 instances: peak RSS ${before} MB before, ${rssMb()} MB after`);
    expect(result).toEqual({
      instancesDeleted: 1001,
      executionsDeleted: 1001,
      eventsDeleted: 3003,
      queueMessagesDeleted: 0,
    });
    for (const table of ["instances", "executions", "history", "kv_store"])
      expect(await count(table)).toBe(0);
  });

  it("bulk-deletes 10,000 completed instances, streaming the candidates", async () => {
    await seed(
      Array.from({ length: 10_000 }, (_, i) => ({ id: `bulk-${i}`, parent: null })),
      2,
    );
    const before = rssMb();
    const result = await provider.asManagementCapability().deleteInstanceBulk({ limit: 10_000 });
    console.log(`bulk delete of 10,000 instances: peak RSS ${before} MB before, ${rssMb()} MB after`);
    expect(result.instancesDeleted).toBe(10_000);
    expect(result.eventsDeleted).toBe(20_000);
    for (const table of ["instances", "executions", "history", "kv_store"])
      expect(await count(table)).toBe(0);
  });
});
