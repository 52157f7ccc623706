/**
 * Lifecycle of a provider and a runtime: a program exits by itself once its runtime is shut down
 * (no provider.close()), and PostgresProvider.create / Runtime.start fail fast, with a message that
 * says what is wrong, on bad credentials, an unreachable or silent server, and a schema that is
 * missing, unmigrated or behind this package; a schema ahead of it is only warned about.
 */
import { spawn } from "node:child_process";
import net from "node:net";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate, quoteSchema } from "../../src/migrate/migrations.ts";
import { PostgresProvider } from "../../src/provider/postgres-provider.ts";
import { StoreNotReadyError } from "../../src/provider/schema-check.ts";
import { Runtime } from "../../src/runtime/runtime.ts";
import { createTestSchema, type TestSchema, uniqueSchemaName } from "../../src/testing/test-schema.ts";

let db: TestSchema;
const extraSchemas: string[] = [];

beforeAll(async () => {
  db = await createTestSchema({ prefix: "rt_life" });
});

afterAll(async () => {
  for (const schema of extraSchemas)
    await db.pool.query(`DROP SCHEMA IF EXISTS ${quoteSchema(schema)} CASCADE`);
  await db?.drop();
});

function otherSchema(): string {
  const schema = uniqueSchemaName("rt_life_x");
  extraSchemas.push(schema);
  return schema;
}

function withPassword(url: string, password: string): string {
  const u = new URL(url);
  u.password = password;
  return u.toString();
}

/** A TCP server on 127.0.0.1 that accepts connections and never says a word. */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port on 127.0.0.1 with nothing listening (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function createError(
  options: Parameters<typeof PostgresProvider.create>[0],
): Promise<StoreNotReadyError> {
  const error = await PostgresProvider.create({ longPoll: false, ...options }).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StoreNotReadyError);
  return error as StoreNotReadyError;
}

describe("a program that shut its runtime down", () => {
  it("exits by itself without provider.close()", async () => {
    const started = Date.now();
    const child = spawn("npx", ["tsx", "test/runtime/fixtures/exit-after-shutdown.ts"], {
      env: { ...process.env, PGD_URL: db.url, PGD_SCHEMA: db.schema },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // its own process group, so a kill on timeout reaches tsx's node child too
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    // Generous: tsx start-up on a loaded machine takes seconds; a process held open by the pool or
    // the listener would never exit.
    const timedOut = new Promise<"timeout">((resolve) =>
      setTimeout(() => resolve("timeout"), 45_000).unref(),
    );
    const outcome = await Promise.race([exited, timedOut]);
    if (outcome === "timeout" && child.pid) process.kill(-child.pid, "SIGKILL");
    expect(outcome, `did not exit by itself; stderr: ${stderr}`).toBe(0);
    expect(JSON.parse(stdout.trim().split("\n").pop()!)).toEqual({ status: "Completed", output: 42 });
    expect(Date.now() - started).toBeLessThan(45_000);
  }, 60_000);
});

describe("PostgresProvider.create fails fast", () => {
  it("on bad credentials, naming the user and the server", async () => {
    const error = await createError({
      connectionString: withPassword(db.url, "not-the-password"),
      schema: db.schema,
    });
    expect(error.reason).toBe("credentials");
    expect(error.message).toMatch(
      /cannot log in to PostgreSQL as .*@.*:\d+\/.*(password|SASL) authentication failed/,
    );
    expect(error.message).not.toContain("not-the-password");
  });

  it("on an unreachable server", async () => {
    const port = await closedPort();
    const error = await createError({ connectionString: `postgres://u:p@127.0.0.1:${port}/db`, schema: "s" });
    expect(error.reason).toBe("unreachable");
    expect(error.message).toMatch(
      new RegExp(`cannot reach PostgreSQL at u@127\\.0\\.0\\.1:${port}/db: .*ECONNREFUSED`),
    );
  });

  it("on a server that accepts TCP and never answers, after connectionTimeoutMs", async () => {
    const server = await silentServer();
    // The same bound applies to a pool passed in that has no timeout of its own.
    const pool = new pg.Pool({ connectionString: `postgres://u:p@127.0.0.1:${server.port}/db` });
    pool.on("error", () => {});
    try {
      const started = Date.now();
      const error = await createError({
        connectionString: `postgres://u:p@127.0.0.1:${server.port}/db`,
        schema: "s",
        connectionTimeoutMs: 500,
      });
      expect(error.reason).toBe("timeout");
      expect(error.message).toMatch(/did not answer within 500 ms \(connectionTimeoutMs\)/);
      expect(Date.now() - started).toBeLessThan(20_000);
      const fromPool = await createError({ pool, schema: "s", connectionTimeoutMs: 500 });
      expect(fromPool.reason).toBe("timeout");
      expect(fromPool.message).toMatch(/did not answer within 500 ms/);
    } finally {
      await server.close(); // ends the pool's connection attempt, so the pool can end
      await pool.end();
    }
  });

  it("on a schema that does not exist", async () => {
    const schema = otherSchema();
    const error = await createError({ connectionString: db.url, schema });
    expect(error.reason).toBe("schema-missing");
    expect(error.message).toMatch(
      new RegExp(
        `schema ${schema} does not exist in .*: migrate it \\(pg-durable migrate --schema "${schema}"\\)`,
      ),
    );
  });

  it("on a schema with no migrations applied", async () => {
    const schema = otherSchema();
    await db.pool.query(`CREATE SCHEMA ${quoteSchema(schema)}`);
    const error = await createError({ connectionString: db.url, schema });
    expect(error.reason).toBe("schema-missing");
    expect(error.message).toMatch(`schema ${schema} in`);
    expect(error.message).toMatch(/has no pg-durable migrations applied/);
  });

  it("on a schema behind the package, before and after applied_migration_versions() exists", async () => {
    const schema = otherSchema();
    await migrate(db.pool, schema, { toVersion: 14 });
    const old = await createError({ connectionString: db.url, schema });
    expect(old.reason).toBe("schema-behind");
    expect(old.message).toMatch(/is behind this package .*lacks at least 0015.*: migrate it/);

    await migrate(db.pool, schema);
    await db.pool.query(`DELETE FROM ${quoteSchema(schema)}.schema_migrations WHERE version IN (3, 7)`);
    const gap = await createError({ connectionString: db.url, schema });
    expect(gap.reason).toBe("schema-behind");
    expect(gap.message).toMatch(/is behind this package: migrations 0003, 0007 not applied: migrate it/);
  });

  it("but only warns, once, about a schema ahead of the package", async () => {
    const schema = otherSchema();
    await migrate(db.pool, schema);
    await db.pool.query(
      `INSERT INTO ${quoteSchema(schema)}.schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')`,
    );
    const warnings: string[] = [];
    const provider = await PostgresProvider.create({
      connectionString: db.url,
      schema,
      longPoll: false,
      logger: { warn: (m) => warnings.push(m) },
    });
    try {
      await provider.checkReady();
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/has migrations this package .* does not ship \(9999\).*newer release/);
    } finally {
      await provider.close();
    }
  });

  it("unless checkSchema is false (a schema being migrated on purpose)", async () => {
    const schema = otherSchema();
    await migrate(db.pool, schema, { toVersion: 14 });
    const provider = await PostgresProvider.create({
      connectionString: db.url,
      schema,
      longPoll: false,
      checkSchema: false,
    });
    await provider.close();
  });
});

describe("Runtime.start fails fast", () => {
  it("when the schema went away after the provider was created", async () => {
    const schema = otherSchema();
    await migrate(db.pool, schema);
    const provider = await PostgresProvider.create({ connectionString: db.url, schema, longPoll: false });
    try {
      await db.pool.query(`DROP SCHEMA ${quoteSchema(schema)} CASCADE`);
      const runtime = new Runtime(provider, { logLevel: "error" });
      await expect(runtime.start()).rejects.toThrow(new RegExp(`schema ${schema} does not exist`));
      await runtime.shutdown(); // never started: nothing to stop
    } finally {
      await provider.close();
    }
  });
});
