/**
 * A fresh, migrated schema per test (or per file), dropped afterwards.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";
import { migrate, quoteSchema } from "../migrate/migrations.ts";

export interface TestSchema {
  url: string;
  schema: string;
  /** A small pool for the test's own queries (inspection, corruption). */
  pool: pg.Pool;
  drop(): Promise<void>;
}

/** The database URL the global setup chose (DATABASE_URL or the embedded server). */
export function testDatabaseUrl(): string {
  return inject("databaseUrl");
}

export function uniqueSchemaName(prefix = "test"): string {
  return `${prefix}_${randomBytes(5).toString("hex")}`;
}

export async function createTestSchema(
  options: { prefix?: string; toVersion?: number } = {},
): Promise<TestSchema> {
  const url = testDatabaseUrl();
  const schema = uniqueSchemaName(options.prefix);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  await migrate(pool, schema, { toVersion: options.toVersion });
  return {
    url,
    schema,
    pool,
    async drop() {
      try {
        await pool.query(`DROP SCHEMA IF EXISTS ${quoteSchema(schema)} CASCADE`);
      } finally {
        await pool.end();
      }
    },
  };
}
