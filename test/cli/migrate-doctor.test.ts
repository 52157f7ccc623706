/**
 * `pg-durable migrate` and `pg-durable doctor` on real schemas, and the bad inputs every command
 * must survive: a silent server, a wrong password, no database, an unknown flag, a missing schema.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMigrations, quoteSchema } from "../../src/migrate/migrations.ts";
import { testDatabaseUrl, uniqueSchemaName } from "../../src/testing/test-schema.ts";
import { cli, target } from "./run.ts";

const run = promisify(execFile);
let pool: pg.Pool;
let url: string;
let packagedCount: number;
const schemas: string[] = [];
const roles: string[] = [];

function newSchema(prefix: string): string {
  const schema = uniqueSchemaName(prefix);
  schemas.push(schema);
  return schema;
}

beforeAll(async () => {
  url = testDatabaseUrl();
  pool = new pg.Pool({ connectionString: url, max: 2 });
  packagedCount = (await loadMigrations()).length;
});

afterAll(async () => {
  for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS ${quoteSchema(schema)} CASCADE`);
  for (const role of roles) await pool.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`);
  await pool.end();
});

describe("migrate", () => {
  it("applies every migration, then reports the schema up to date (table and JSON)", async () => {
    const schema = newSchema("cli_mig");
    const first = await cli(["migrate", ...target(url, schema)]);
    expect(first.code).toBe(0);
    expect(first.out).toMatch(new RegExp(`applied ${packagedCount} migration\\(s\\) to ${schema}`));
    const again = await cli(["migrate", ...target(url, schema), "--json"]);
    expect(again.code).toBe(0);
    expect(again.json()).toEqual({
      schema,
      applied: [],
      upToDate: true,
      grantedRole: null,
      revokedRole: null,
      warnings: [],
    });
    expect(again.err).toMatch(/is up to date/); // progress goes to stderr in JSON mode
  });

  it("lists migrations with --status, with checksums in JSON", async () => {
    const schema = newSchema("cli_status");
    await cli(["migrate", ...target(url, schema), "--to", "3"]);
    const table = await cli(["migrate", "--status", ...target(url, schema)]);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(new RegExp(`3 applied, ${packagedCount - 3} pending`));
    expect(table.out).toMatch(/│ 0004\s+│ custom_status\s+│ pending/);
    const json = await cli(["migrate", "--status", ...target(url, schema), "--json"]);
    const status = json.json<{ applied: number; pending: number; migrations: Record<string, unknown>[] }>();
    expect(status).toMatchObject({ schema, applied: 3, pending: packagedCount - 3 });
    expect(status.migrations[0]).toEqual({
      version: 1,
      name: "core_tables",
      state: "applied",
      appliedAt: expect.any(String),
      packagedChecksum: expect.stringMatching(/^[0-9a-f]{64}$/),
      appliedChecksum: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(status.migrations[3]).toMatchObject({ version: 4, state: "pending", appliedChecksum: null });
  });

  it("warns when --to is past the last migration, and applies them all", async () => {
    const schema = newSchema("cli_to");
    const result = await cli(["migrate", ...target(url, schema), "--to", "9999", "--json"]);
    expect(result.code).toBe(0);
    expect(result.err).toMatch(/warning: --to 9999 is past the last migration this package ships \(\d{4}_/);
    const body = result.json<{ applied: number[]; warnings: string[] }>();
    expect(body.applied).toHaveLength(packagedCount);
    expect(body.warnings).toEqual([expect.stringMatching(/past the last migration/)]);
  });

  it("warns when the schema has migrations this package does not ship", async () => {
    const schema = newSchema("cli_ahead");
    await cli(["migrate", ...target(url, schema)]);
    await pool.query(
      `INSERT INTO ${quoteSchema(schema)}.schema_migrations (version, name, checksum) VALUES (9001, 'from_the_future', 'x')`,
    );
    const result = await cli(["migrate", ...target(url, schema)]);
    expect(result.code).toBe(0);
    expect(result.err).toMatch(/schema ".*" is ahead of this package: it has 9001_from_the_future applied/);
    const status = await cli(["migrate", "--status", ...target(url, schema), "--json"]);
    expect(
      status.json<{ migrations: { version: number; state: string }[] }>().migrations.at(-1),
    ).toMatchObject({
      version: 9001,
      state: "unknown",
    });
  });

  it("refuses conflicting or missing options with exit 2", async () => {
    const both = await cli([
      "migrate",
      ...target(url, "x"),
      "--grant-runtime-role",
      "a",
      "--revoke-runtime-role",
      "a",
    ]);
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/not both/);
    const noDb = await cli(["migrate", "--schema", "x"], {});
    expect(noDb.code).toBe(2);
    expect(noDb.err).toMatch(/no database given: pass --database-url or set DATABASE_URL/);
    const badTo = await cli(["migrate", ...target(url, "x"), "--to", "two"]);
    expect(badTo.code).toBe(2);
  });

  it("takes the database from DATABASE_URL", async () => {
    const schema = newSchema("cli_env");
    const result = await cli(["migrate", "--schema", schema, "--status"], { DATABASE_URL: url });
    expect(result.code).toBe(0);
    expect(result.out).toMatch(new RegExp(`0 applied, ${packagedCount} pending`));
  });
});

describe("doctor", () => {
  it("passes every check on a freshly migrated schema", async () => {
    const schema = newSchema("cli_doc_ok");
    await cli(["migrate", ...target(url, schema)]);
    const result = await cli(["doctor", ...target(url, schema), "--json"]);
    expect(result.code).toBe(0);
    const report = result.json<{ ok: boolean; checks: { name: string; status: string; detail: string }[] }>();
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.name)).toEqual([
      "server",
      "migrations",
      "functions",
      expect.stringMatching(/^role /),
      "listen",
      "clock",
    ]);
    expect(report.checks.every((c) => c.status === "ok")).toBe(true);
    expect(report.checks[0]!.detail).toMatch(/^PostgreSQL \d+/);
    // This machine and its database share a clock: a skew of a few ms, inside the runtime's bound.
    expect(report.checks.at(-1)!.detail).toMatch(/by \d+ ms \(±\d+ ms\); bound \d+ ms$/);
    expect(result.json()).toMatchObject({
      functions: { comparedToVersion: expect.any(Number), missing: [], extra: [], changed: [] },
    });
    // The scratch schema the function check used was rolled back.
    const left = await pool.query("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgd_doctor_%'");
    expect(left.rows).toEqual([]);
    const table = await cli(["doctor", ...target(url, schema)]);
    expect(table.out).toMatch(/0 failed, 0 warning\(s\), 6 ok/);
  });

  it("fails on a function changed by hand, an edited migration, and a role that may not execute", async () => {
    const schema = newSchema("cli_doc_bad");
    await cli(["migrate", ...target(url, schema)]);
    const q = quoteSchema(schema);
    await pool.query(`BEGIN; SET LOCAL search_path TO ${q}, pg_temp;
      CREATE OR REPLACE FUNCTION list_instances() RETURNS SETOF text LANGUAGE sql STABLE
        SET search_path FROM CURRENT AS $$ SELECT 'tampered'::text $$; COMMIT`);
    await pool.query(`UPDATE ${q}.schema_migrations SET checksum = 'edited' WHERE version = 2`);
    const role = `pgd_doc_${randomBytes(5).toString("hex")}`;
    roles.push(role);
    await pool.query(`CREATE ROLE ${pg.escapeIdentifier(role)} NOLOGIN`);

    const result = await cli(["doctor", ...target(url, schema), "--runtime-role", role, "--json"]);
    expect(result.code).toBe(1);
    const checks = result.json<{ checks: { name: string; status: string; detail: string }[] }>().checks;
    const failed = checks.filter((c) => c.status === "fail");
    expect(failed.map((c) => c.name)).toEqual(["migrations", "functions", `role ${role}`]);
    expect(failed[0]!.detail).toMatch(/0002_orchestration_functions changed since applied/);
    expect(failed[1]!.detail).toMatch(/changed: list_instances\(\) \[body, security\]/);
    expect(failed[2]!.detail).toMatch(/has no USAGE on schema/);
  });

  it("reports pending migrations as a warning and a missing schema as a failure", async () => {
    const schema = newSchema("cli_doc_pending");
    await cli(["migrate", ...target(url, schema), "--to", "12"]);
    const pending = await cli(["doctor", ...target(url, schema), "--json"]);
    expect(pending.code).toBe(0);
    const checks = pending.json<{ checks: { name: string; status: string; detail: string }[] }>().checks;
    expect(checks.find((c) => c.name === "migrations")).toMatchObject({
      status: "warn",
      detail: expect.stringMatching(/pending: 0013_/),
    });
    expect(checks.find((c) => c.name === "functions")).toMatchObject({
      status: "ok",
      detail: expect.stringMatching(/at migration 12/),
    });

    const missing = await cli(["doctor", ...target(url, uniqueSchemaName("cli_doc_none"))]);
    expect(missing.code).toBe(1);
    expect(missing.out).toMatch(/schema .* does not exist/);
  });
});

describe("bad inputs", () => {
  let silent: Server;
  let silentPort: number;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    // Accepts TCP connections and never says a word.
    silent = createServer((socket) => {
      sockets.push(socket);
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    silentPort = (silent.address() as { port: number }).port;
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it.each([
    ["instances list", ["instances", "list"]],
    ["migrate", ["migrate"]],
    ["doctor", ["doctor"]],
  ])(
    "%s: a server that accepts but never answers fails within the connect timeout (exit 1)",
    async (_, command) => {
      const started = Date.now();
      const result = await cli([
        ...command,
        "--database-url",
        `postgres://u:p@127.0.0.1:${silentPort}/db`,
        "--connect-timeout-ms",
        "500",
      ]);
      const elapsed = Date.now() - started;
      expect(result.code).toBe(1);
      expect(result.err).toMatch(
        new RegExp(`no answer from 127.0.0.1:${silentPort} within 500 ms \\(--connect-timeout-ms\\)`),
      );
      expect(elapsed).toBeLessThan(10_000); // 500 ms plus a noisy machine's slack; a hang would never return
    },
  );

  it("nothing listening on the port fails at once with a clear message (exit 1)", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const result = await cli(["queues", "--database-url", `postgres://u:p@127.0.0.1:${port}/db`]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(new RegExp(`cannot connect to 127.0.0.1:${port}: connection refused`));
  });

  it("a wrong password fails with a clear message (exit 1)", async () => {
    const role = `pgd_pw_${randomBytes(5).toString("hex")}`;
    roles.push(role);
    await pool.query(`CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN PASSWORD 'right-password'`);
    const wrong = new URL(url);
    wrong.username = role;
    wrong.password = "wrong-password";
    const result = await cli(["queues", "--database-url", wrong.toString()]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(
      new RegExp(`authentication failed for user "${role}" on .*: check the user and password`),
    );
    expect(result.err).not.toMatch(/wrong-password/);
  });

  it("a schema that is missing or not migrated fails with a clear message (exit 1)", async () => {
    const missing = await cli(["instances", "list", ...target(url, uniqueSchemaName("cli_missing"))]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(
      /schema ".*" does not exist: create the store with `pg-durable migrate --schema/,
    );
    const empty = newSchema("cli_empty");
    await pool.query(`CREATE SCHEMA ${quoteSchema(empty)}`);
    const unmigrated = await cli(["instances", "list", ...target(url, empty)]);
    expect(unmigrated.code).toBe(1);
    expect(unmigrated.err).toMatch(/holds no pg-durable store .*run `pg-durable migrate --schema/);
    const behind = newSchema("cli_behind");
    await cli(["migrate", ...target(url, behind), "--to", "13"]);
    const result = await cli(["instances", "list", ...target(url, behind)]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/is behind this package/);
  });

  it("an unknown flag, a missing argument or an unknown command is a usage error (exit 2)", async () => {
    const flag = await cli(["instances", "list", "--bogus"]);
    expect(flag.code).toBe(2);
    expect(flag.err).toMatch(/unknown option '--bogus'/);
    const argument = await cli(["instances", "show"]);
    expect(argument.code).toBe(2);
    expect(argument.err).toMatch(/missing required argument 'id'/);
    expect((await cli(["frobnicate"])).code).toBe(2);
    expect((await cli(["instances"])).code).toBe(2);
  });

  it("--help prints usage and exit codes, exit 0, without connecting", async () => {
    for (const command of [[], ["migrate"], ["instances", "raise"], ["prune"], ["queues"], ["doctor"]]) {
      const result = await cli([...command, "--help"], {
        DATABASE_URL: `postgres://u:p@127.0.0.1:${silentPort}/db`,
      });
      expect(result.code).toBe(0);
      expect(result.out).toMatch(/Usage: pg-durable/);
      expect(result.out).toMatch(/Exit codes:/);
    }
  });
});

describe("the real program", () => {
  it("exits with the documented codes when run as a process", async () => {
    const ok = await run("npx", ["tsx", "src/cli/main.ts", "--help"], { timeout: 60_000 });
    expect(ok.stdout).toMatch(/Usage: pg-durable/);
    const usage = await run("npx", ["tsx", "src/cli/main.ts", "queues", "--bogus"], {
      timeout: 60_000,
    }).catch((e: { code: number; stderr: string }) => e);
    expect(usage).toMatchObject({ code: 2, stderr: expect.stringMatching(/unknown option '--bogus'/) });
    const missing = await run(
      "npx",
      ["tsx", "src/cli/main.ts", "instances", "list", ...target(url, uniqueSchemaName("cli_proc"))],
      { timeout: 60_000 },
    ).catch((e: { code: number; stderr: string }) => e);
    expect(missing).toMatchObject({ code: 1, stderr: expect.stringMatching(/does not exist/) });
  });
});
