/**
 * Least privilege (migrations/0014_least_privilege.sql, src/migrate/runtime-role.ts): a login role
 * granted as a runtime role on one schema runs the whole runtime and the admin API there through
 * the store's SECURITY DEFINER functions, yet cannot touch a table, create anything, or reach
 * another schema. Also: the runner keeps functions of later migrations SECURITY DEFINER.
 */
import { randomBytes } from "node:crypto";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMigrateCli } from "../../src/migrate/cli.ts";
import { MIGRATIONS_DIR, MigrationError, migrate, quoteSchema } from "../../src/migrate/migrations.ts";
import { grantRuntimeRole, revokeRuntimeRole } from "../../src/migrate/runtime-role.ts";
import { PostgresProvider } from "../../src/provider/postgres-provider.ts";
import { Client } from "../../src/runtime/client.ts";
import { Runtime } from "../../src/runtime/runtime.ts";
import { testDatabaseUrl, uniqueSchemaName } from "../../src/testing/test-schema.ts";

const role = `pgd_lp_${randomBytes(5).toString("hex")}`;
const password = randomBytes(12).toString("hex");
const schemaA = uniqueSchemaName("lp_a");
const schemaB = uniqueSchemaName("lp_b");
const schemas = [schemaA, schemaB];
const qA = quoteSchema(schemaA);
const qB = quoteSchema(schemaB);

/** The superuser (or whoever the test URL names): owns and migrates the schemas. */
let admin: pg.Pool;
/** Connected as the runtime role. */
let asRole: pg.Pool;
let roleUrl: string;

/** The test URL with the runtime role's user and password. */
function urlForRole(): string {
  const url = new URL(testDatabaseUrl());
  url.username = encodeURIComponent(role);
  url.password = encodeURIComponent(password);
  return url.toString();
}

/** The SQLSTATE `promise` rejects with. */
async function sqlstate(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return (error as { code?: string }).code;
  }
  throw new Error("expected the statement to fail");
}

/** Every function of `schema`: whether it is SECURITY DEFINER and whether PUBLIC may execute it. */
async function functionFlags(schema: string) {
  const { rows } = await admin.query<{ name: string; definer: boolean; public_execute: boolean }>(
    `SELECT p.proname AS name, p.prosecdef AS definer,
            EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                     WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE') AS public_execute
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = $1 ORDER BY 1`,
    [schema],
  );
  return rows;
}

beforeAll(async () => {
  admin = new pg.Pool({ connectionString: testDatabaseUrl(), max: 4 });
  await admin.query(`CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN PASSWORD ${pg.escapeLiteral(password)}`);
  for (const schema of schemas) await migrate(admin, schema);
  await grantRuntimeRole(admin, schemaA, role);
  roleUrl = urlForRole();
  asRole = new pg.Pool({ connectionString: roleUrl, max: 4 });
});

afterAll(async () => {
  await asRole?.end();
  for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${quoteSchema(schema)} CASCADE`);
  // DROP OWNED also revokes whatever the role was granted in this database.
  await admin.query(`DROP OWNED BY ${pg.escapeIdentifier(role)}`);
  await admin.query(`DROP ROLE ${pg.escapeIdentifier(role)}`);
  await admin.end();
});

describe("0014_least_privilege", () => {
  it("makes every store function SECURITY DEFINER (but the pure, inlined packed_version) and revokes PUBLIC", async () => {
    const flags = await functionFlags(schemaA);
    expect(flags.length).toBeGreaterThan(40);
    expect(flags.filter((f) => !f.definer).map((f) => f.name)).toEqual(["packed_version"]);
    expect(flags.filter((f) => f.public_execute).map((f) => f.name)).toEqual([]);
  });

  it("grants the runtime role USAGE and EXECUTE only: no table, sequence or CREATE privilege", async () => {
    const { rows } = await admin.query(
      `SELECT has_schema_privilege($2::text, $1::text, 'USAGE') AS usage,
              has_schema_privilege($2::text, $1::text, 'CREATE') AS create,
              (SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'S', 'v', 'm')
                  AND (has_table_privilege($2::text, c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                       OR (c.relkind = 'S' AND has_sequence_privilege($2::text, c.oid, 'USAGE, SELECT, UPDATE')))) AS relations`,
      [schemaA, role],
    );
    expect(rows[0]).toEqual({ usage: true, create: false, relations: 0 });
  });
});

describe("a runtime role on schema A", () => {
  it("runs the runtime end to end and the admin API through the store's functions", async () => {
    const provider = await PostgresProvider.create({
      connectionString: roleUrl,
      schema: schemaA,
      poolSize: 6,
    });
    const runtime = new Runtime(provider, {
      dispatcherMinPollIntervalMs: 10,
      dispatcherLongPollTimeoutMs: 200,
      logLevel: "error",
    });
    runtime.registerActivity("Double", async (_ctx, n: number) => n * 2);
    runtime.registerOrchestration("DoubleLater", function* (ctx, n: number) {
      yield ctx.scheduleTimer(50);
      ctx.setCustomStatus("timer fired");
      const doubled: number = yield ctx.scheduleActivity("Double", n);
      return doubled;
    });
    await runtime.start();
    const client = new Client(provider);
    try {
      for (const [i, id] of ["lp-1", "lp-2", "lp-3"].entries()) {
        await client.startOrchestration(id, "DoubleLater", 20 + i);
      }
      for (const [i, id] of ["lp-1", "lp-2", "lp-3"].entries()) {
        expect(await client.waitForOrchestration(id, 20_000)).toMatchObject({
          status: "Completed",
          output: 2 * (20 + i),
        });
      }
      const history = await provider.read("lp-1");
      expect(history.map((e) => e.type)).toContain("TimerFired");
      expect(history.map((e) => e.type)).toContain("ActivityCompleted");

      const management = provider.asManagementCapability();
      expect((await management.listInstances()).sort()).toEqual(["lp-1", "lp-2", "lp-3"]);
      expect(await management.getInstanceInfo("lp-1")).toMatchObject({
        instanceId: "lp-1",
        orchestrationName: "DoubleLater",
        status: "Completed",
      });
      expect((await management.getSystemMetrics()).completedInstances).toBe(3);
      expect(await management.deleteInstance("lp-1", false)).toMatchObject({ instancesDeleted: 1 });
      // The bulk path streams its candidates through a cursor on a dedicated connection.
      expect(await management.deleteInstanceBulk({ instanceIds: ["lp-2", "lp-3"] })).toMatchObject({
        instancesDeleted: 2,
      });
      expect(await management.listInstances()).toEqual([]);
    } finally {
      await runtime.shutdown(2000);
      await provider.close();
    }
  });

  it("cannot read or write A's tables directly", async () => {
    expect(await sqlstate(asRole.query(`SELECT * FROM ${qA}.instances`))).toBe("42501");
    expect(await sqlstate(asRole.query(`SELECT * FROM ${qA}.schema_migrations`))).toBe("42501");
    expect(await sqlstate(asRole.query(`DELETE FROM ${qA}.worker_queue`))).toBe("42501");
    // …while the function that reads the same table works.
    await expect(asRole.query(`SELECT * FROM ${qA}.list_instances()`)).resolves.toBeDefined();
  });

  it("cannot read or call anything in schema B", async () => {
    expect(await sqlstate(asRole.query(`SELECT * FROM ${qB}.instances`))).toBe("42501");
    expect(await sqlstate(asRole.query(`SELECT * FROM ${qB}.list_instances()`))).toBe("42501");
    // The start-up check already refuses the schema, naming the grant to run…
    await expect(
      PostgresProvider.create({ connectionString: roleUrl, schema: schemaB, longPoll: false }),
    ).rejects.toThrow(/may not call the functions of schema .*--grant-runtime-role/);
    // …and without the check, every call is refused.
    const providerB = await PostgresProvider.create({
      connectionString: roleUrl,
      schema: schemaB,
      longPoll: false,
      checkSchema: false,
    });
    try {
      await expect(providerB.asManagementCapability().listInstances()).rejects.toThrow(/permission denied/);
    } finally {
      await providerB.close();
    }
    // Even with USAGE on B, EXECUTE is not PUBLIC's any more: the functions stay out of reach.
    await admin.query(`GRANT USAGE ON SCHEMA ${qB} TO ${pg.escapeIdentifier(role)}`);
    try {
      expect(await sqlstate(asRole.query(`SELECT * FROM ${qB}.list_instances()`))).toBe("42501");
      expect(await sqlstate(asRole.query(`SELECT * FROM ${qB}.instances`))).toBe("42501");
    } finally {
      await admin.query(`REVOKE USAGE ON SCHEMA ${qB} FROM ${pg.escapeIdentifier(role)}`);
    }
  });

  it("cannot create or replace objects in A", async () => {
    expect(await sqlstate(asRole.query(`CREATE TABLE ${qA}.mine (id int)`))).toBe("42501");
    expect(
      await sqlstate(asRole.query(`CREATE FUNCTION ${qA}.mine() RETURNS int LANGUAGE sql AS 'SELECT 1'`)),
    ).toBe("42501");
    expect(
      await sqlstate(
        asRole.query(
          `CREATE OR REPLACE FUNCTION ${qA}.list_instances() RETURNS SETOF text LANGUAGE sql AS 'SELECT 1'`,
        ),
      ),
    ).toBe("42501");
    expect(await sqlstate(asRole.query(`ALTER FUNCTION ${qA}.list_instances() SECURITY INVOKER`))).toBe(
      "42501",
    );
  });

  it("cannot migrate: that stays with the owner", async () => {
    await expect(migrate(roleUrl, schemaA)).rejects.toThrow(/permission denied/);
  });
});

describe("the runner keeps functions SECURITY DEFINER", () => {
  it("re-applies 0014 after a later migration that replaces or adds functions, in the same commit", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pgd-lp-"));
    const schemaC = uniqueSchemaName("lp_c");
    schemas.push(schemaC);
    try {
      await cp(MIGRATIONS_DIR, dir, { recursive: true });
      // A replaced function (CREATE OR REPLACE resets SECURITY DEFINER) and a new one (EXECUTE for PUBLIC).
      await writeFile(
        join(dir, "0099_later.sql"),
        `CREATE OR REPLACE FUNCTION wakeup_channel(p_queue text) RETURNS text
         LANGUAGE sql IMMUTABLE SET search_path FROM CURRENT AS $$
           SELECT 'pgd_' || left(md5(current_schema()), 16) || '_' || p_queue
         $$;
         CREATE FUNCTION instance_count() RETURNS bigint
         LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$ SELECT count(*) FROM instances $$;`,
      );
      await migrate(admin, schemaC, { dir });
      const flags = await functionFlags(schemaC);
      expect(flags.find((f) => f.name === "wakeup_channel")).toMatchObject({
        definer: true,
        public_execute: false,
      });
      expect(flags.find((f) => f.name === "instance_count")).toMatchObject({
        definer: true,
        public_execute: false,
      });

      // The grant covers the new function, and the role reads a table it has no privilege on through it.
      await grantRuntimeRole(admin, schemaC, role);
      await grantRuntimeRole(admin, schemaC, role); // idempotent
      const { rows } = await asRole.query(`SELECT ${quoteSchema(schemaC)}.instance_count() AS n`);
      expect(Number(rows[0].n)).toBe(0);
      await revokeRuntimeRole(admin, schemaC, role);
      expect(await sqlstate(asRole.query(`SELECT ${quoteSchema(schemaC)}.instance_count()`))).toBe("42501");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("repairs a function replaced by hand at the next run, and refuses one without a pinned search_path", async () => {
    await admin.query(`ALTER FUNCTION ${qB}.list_instances() SECURITY INVOKER`);
    await admin.query(`GRANT EXECUTE ON FUNCTION ${qB}.list_children(text) TO PUBLIC`);
    expect(await migrate(admin, schemaB)).toEqual([]);
    const flags = await functionFlags(schemaB);
    expect(flags.find((f) => f.name === "list_instances")?.definer).toBe(true);
    expect(flags.find((f) => f.name === "list_children")?.public_execute).toBe(false);

    await admin.query(`CREATE FUNCTION ${qB}.unpinned() RETURNS bigint LANGUAGE sql STABLE AS 'SELECT 1'`);
    try {
      const failure = migrate(admin, schemaB);
      await expect(failure).rejects.toThrow(MigrationError);
      await expect(failure).rejects.toThrow(/unpinned\(\) does not pin its search_path/);
    } finally {
      await admin.query(`DROP FUNCTION ${qB}.unpinned()`);
    }
  });
});

describe("grant and revoke", () => {
  it("refuses a role that does not exist, and a schema not migrated to 0014", async () => {
    await expect(grantRuntimeRole(admin, schemaA, `${role}_missing`)).rejects.toThrow(/does not exist/);
    const old = uniqueSchemaName("lp_old");
    schemas.push(old);
    await migrate(admin, old, { toVersion: 13 });
    await expect(grantRuntimeRole(admin, old, role)).rejects.toThrow(/not migrated to 0014_least_privilege/);
  });

  it("is reachable from the CLI, which migrates first and then grants", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const url = testDatabaseUrl();
    const base = ["--schema", schemaA, "--database-url", url];
    expect(
      await runMigrateCli(
        [...base, "--grant-runtime-role", role],
        (l) => out.push(l),
        (l) => err.push(l),
      ),
    ).toBe(0);
    expect(out.join("\n")).toMatch(/up to date[\s\S]*granted/);
    expect(
      await runMigrateCli(
        [...base, "--grant-runtime-role", `${role}_missing`],
        (l) => out.push(l),
        (l) => err.push(l),
      ),
    ).toBe(1);
    expect(err.join("\n")).toMatch(/does not exist: create it first/);
    expect(
      await runMigrateCli(
        [...base, "--grant-runtime-role", role, "--revoke-runtime-role", role],
        (l) => out.push(l),
        (l) => err.push(l),
      ),
    ).toBe(2);
  });
});
