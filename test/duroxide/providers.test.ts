/**
 * The user guide's "Providers" section against pg-durable/duroxide: PostgresProvider.connect (the
 * "public" schema, migrated) and connectWithSchema (schema created and migrated); SQLite and
 * Entra ID sign-in fail with errors that say what to use instead.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { Client, PostgresProvider as CorePostgresProvider } from "pg-durable";
import {
  Client as DuroxideClient,
  PostgresProvider,
  Runtime,
  SqliteProvider,
  UnsupportedError,
} from "pg-durable/duroxide";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { quoteSchema } from "../../src/migrate/migrations.ts";
import { testDatabaseUrl, uniqueSchemaName } from "../../src/testing/test-schema.ts";
import { eventually } from "./harness.ts";

describe("PostgresProvider.connect uses and migrates the public schema", () => {
  // A database of its own, so the shared server's public schema is left alone.
  const database = `dx_public_${randomBytes(4).toString("hex")}`;
  let admin: pg.Pool;
  let url: string;

  beforeAll(async () => {
    admin = new pg.Pool({ connectionString: testDatabaseUrl(), max: 1 });
    await admin.query(`CREATE DATABASE ${database}`);
    const u = new URL(testDatabaseUrl());
    u.pathname = `/${database}`;
    url = u.toString();
  });
  afterAll(async () => {
    // pool.end() resolves before the server has seen every socket close: wait until the database
    // has no sessions left, so FORCE terminates nobody (a terminated client whose pool has already
    // let go of it raises an error no one listens to).
    await eventually(async () => {
      const { rows } = await admin.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1",
        [database],
      );
      return rows[0]!.n === 0;
    }, 10_000);
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  });

  it("runs an orchestration on a database it migrated itself", async () => {
    const provider = await PostgresProvider.connect(url);
    try {
      expect(provider).toBeInstanceOf(PostgresProvider);
      expect(provider).toBeInstanceOf(CorePostgresProvider);
      expect(provider.schema).toBe("public");
      const runtime = new Runtime(provider, { dispatcherPollIntervalMs: 50, logLevel: "off" });
      // biome-ignore lint/correctness/useYield: an orchestration is a generator even when it schedules nothing
      runtime.registerOrchestration("Plain", function* (_ctx, input) {
        return input * 2;
      });
      await runtime.start();
      const client = new DuroxideClient(provider);
      await client.startOrchestration("p-1", "Plain", 21);
      expect((await client.waitForOrchestration("p-1", 10_000)).output).toBe(42);
      await runtime.shutdown(100);
      const db = new pg.Pool({ connectionString: url, max: 1 });
      const { rows } = await db.query(
        "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public' AND tablename = 'schema_migrations'",
      );
      await db.end();
      expect(rows[0].n).toBe(1);
    } finally {
      await provider.close();
    }
  });
});

describe("PostgresProvider.connectWithSchema", () => {
  const schema = uniqueSchemaName("dxschema");
  afterAll(async () => {
    const pool = new pg.Pool({ connectionString: testDatabaseUrl(), max: 1 });
    await pool.query(`DROP SCHEMA IF EXISTS ${quoteSchema(schema)} CASCADE`);
    await pool.end();
  });

  it("creates and migrates a missing schema; the provider also works with the main API", async () => {
    const provider = await PostgresProvider.connectWithSchema(testDatabaseUrl(), schema);
    try {
      expect(provider.schema).toBe(schema);
      // Connecting again finds the schema current (migrations are idempotent).
      const again = await PostgresProvider.connectWithSchema(testDatabaseUrl(), schema);
      await again.close();
      const main = new Client(provider);
      expect(await main.listAllInstances()).toEqual([]);
    } finally {
      await provider.close();
    }
  });

  it("refuses an empty database URL or schema with a clear error", async () => {
    await expect(PostgresProvider.connect("")).rejects.toThrow(/needs a database URL/);
    await expect(PostgresProvider.connectWithSchema(testDatabaseUrl(), "")).rejects.toThrow(/schema/);
  });
});

describe("what cannot exist here", () => {
  it("SqliteProvider.open and inMemory say SQLite is not available and what to use", async () => {
    for (const attempt of [SqliteProvider.open("sqlite:myapp.db"), SqliteProvider.inMemory()]) {
      const error = await attempt.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnsupportedError);
      expect((error as Error).message).toMatch(/no SQLite store/);
      expect((error as Error).message).toMatch(/PostgresProvider\.connectWithSchema/);
    }
  });

  it("Entra ID sign-in says it is not available and how to pass a token instead", async () => {
    const attempts = [
      PostgresProvider.connectWithEntra("srv.postgres.database.azure.com", 5432, "db", "app"),
      PostgresProvider.connectWithSchemaAndEntra("srv.postgres.database.azure.com", 5432, "db", "app", "s", {
        maxConnections: 5,
      }),
    ];
    for (const attempt of attempts) {
      const error = await attempt.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnsupportedError);
      expect((error as Error).message).toMatch(/Microsoft Entra ID/);
      expect((error as Error).message).toMatch(/`password` is an async function/);
      expect((error as Error).message).toMatch(/PostgresProvider\.create\(\{ pool/);
    }
  });
});
