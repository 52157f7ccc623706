/**
 * Runtime roles survive migrations (migrations/post-migration/least_privilege.sql, docs/migrations.md
 * "Runtime roles"): a role granted before a migration that adds functions or drops and re-creates
 * one (0019 re-created ack_orchestration_item, 0021 added the dashboard reads) may call them after
 * it with no second grant; a revoked role gets nothing back; the owner's rights are unchanged; and
 * the step grants exactly the routines RUNTIME_ROUTINES selects (one set for the SQL and the TS).
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMigrations, migrate, quoteSchema } from "../../src/migrate/migrations.ts";
import { grantRuntimeRole, RUNTIME_ROUTINES, revokeRuntimeRole } from "../../src/migrate/runtime-role.ts";
import { PostgresProvider } from "../../src/provider/postgres-provider.ts";
import { Client } from "../../src/runtime/client.ts";
import { Runtime } from "../../src/runtime/runtime.ts";
import { testDatabaseUrl, uniqueSchemaName } from "../../src/testing/test-schema.ts";

const tag = randomBytes(4).toString("hex");
const kept = `pgd_up_kept_${tag}`;
const revoked = `pgd_up_revoked_${tag}`;
/** Granted USAGE by hand, with a name that needs quoting: the step must quote it (format %I). */
const byHand = `pgd Up "hand" ${tag}`;
const grantor = `pgd_up_grantor_${tag}`;
const viaGrantor = `pgd_up_via_${tag}`;
const roles = [kept, revoked, byHand, grantor, viaGrantor];
const password = randomBytes(12).toString("hex");
const schema = uniqueSchemaName("rr_up");
const quoted = quoteSchema(schema);
const ident = pg.escapeIdentifier;

let admin: pg.Pool;
let owner: string;

/** The runtime routines of the schema that `role` may not execute (empty: fully granted). */
async function notExecutable(role: string): Promise<string[]> {
  const { rows } = await admin.query<{ name: string }>(
    `SELECT p.proname AS name ${RUNTIME_ROUTINES} AND NOT has_function_privilege($2::text, p.oid, 'EXECUTE')
      ORDER BY 1`,
    [schema, role],
  );
  return rows.map((r) => r.name);
}

/** `name(args)` of every function of the schema whose ACL names `role` explicitly. */
async function grantedTo(role: string): Promise<string[]> {
  const { rows } = await admin.query<{ signature: string }>(
    `SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS signature
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = $1
        AND EXISTS (SELECT 1 FROM aclexplode(p.proacl) a
                     WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $2))
      ORDER BY 1`,
    [schema, role],
  );
  return rows.map((r) => r.signature);
}

function urlFor(role: string): string {
  const url = new URL(testDatabaseUrl());
  url.username = encodeURIComponent(role);
  url.password = encodeURIComponent(password);
  return url.toString();
}

beforeAll(async () => {
  admin = new pg.Pool({ connectionString: testDatabaseUrl(), max: 4 });
  owner = (await admin.query<{ me: string }>("SELECT current_user AS me")).rows[0]!.me;
  for (const role of roles)
    await admin.query(`CREATE ROLE ${ident(role)} LOGIN PASSWORD ${pg.escapeLiteral(password)}`);
});

afterAll(async () => {
  await admin.query(`DROP SCHEMA IF EXISTS ${quoted} CASCADE`);
  for (const role of roles) {
    await admin.query(`DROP OWNED BY ${ident(role)}`);
    await admin.query(`DROP ROLE ${ident(role)}`);
  }
  await admin.end();
});

describe("a runtime role granted before a migration", () => {
  it("can still ack after migrating from 0018 to the latest, with no second grant", async () => {
    await migrate(admin, schema, { toVersion: 18 });
    await grantRuntimeRole(admin, schema, kept);
    await grantRuntimeRole(admin, schema, revoked);
    await revokeRuntimeRole(admin, schema, revoked);

    const latest = Math.max(...(await loadMigrations()).map((m) => m.version));
    const applied = await migrate(admin, schema);
    expect(applied[0]).toBe(19);
    expect(applied.at(-1)).toBe(latest);

    // 0019 dropped and re-created ack_orchestration_item, 0021 added the dashboard reads.
    expect(await notExecutable(kept)).toEqual([]);
    const { rows } = await admin.query(
      `SELECT has_function_privilege($1::text, p.oid, 'EXECUTE') AS ok, p.proname AS name
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = $2 AND p.proname IN ('ack_orchestration_item', 'dashboard_list_instances')
        ORDER BY 2`,
      [kept, schema],
    );
    expect(rows).toEqual([
      { ok: true, name: "ack_orchestration_item" },
      { ok: true, name: "dashboard_list_instances" },
    ]);

    // And a runtime connected as the role runs an orchestration through fetch and ack.
    const provider = await PostgresProvider.create({ connectionString: urlFor(kept), schema, poolSize: 4 });
    const runtime = new Runtime(provider, {
      dispatcherMinPollIntervalMs: 10,
      dispatcherLongPollTimeoutMs: 200,
      logLevel: "error",
    });
    runtime.registerActivity("Inc", async (_ctx, n: number) => n + 1);
    runtime.registerOrchestration("IncOnce", function* (ctx, n: number) {
      const next: number = yield ctx.scheduleActivity("Inc", n);
      return next;
    });
    await runtime.start();
    try {
      await new Client(provider).startOrchestration("up-1", "IncOnce", 41);
      expect(await new Client(provider).waitForOrchestration("up-1", 20_000)).toMatchObject({
        status: "Completed",
        output: 42,
      });
    } finally {
      await runtime.shutdown(2000);
      await provider.close();
    }
  });

  it("a revoked role gets nothing back, and the owner's rights are unchanged", async () => {
    const { rows } = await admin.query(
      `SELECT has_schema_privilege($2::text, $1::text, 'USAGE') AS usage,
              (SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname = $1 AND has_function_privilege($2::text, p.oid, 'EXECUTE')) AS executable`,
      [schema, revoked],
    );
    expect(rows[0]).toEqual({ usage: false, executable: 0 });
    expect(await grantedTo(revoked)).toEqual([]);

    // Every function's ACL names the owner and, on runtime routines only, the runtime role; never
    // PUBLIC. Trigger functions are granted to nobody.
    const acl = await admin.query<{ name: string; trigger: boolean; grantees: string[] }>(
      `SELECT p.proname AS name, p.prorettype = 'trigger'::regtype AS trigger,
              array(SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END
                      FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a ORDER BY 1) AS grantees
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = $1`,
      [schema],
    );
    const triggers = acl.rows.filter((r) => r.trigger);
    expect(triggers.length).toBeGreaterThan(0);
    for (const row of triggers) expect(row.grantees, row.name).toEqual([owner]);
    for (const row of acl.rows.filter((r) => !r.trigger))
      expect(row.grantees, row.name).toEqual([kept, owner].sort());
    const asOwner = await admin.query(`SELECT count(*)::int AS n FROM ${quoted}.list_instances()`);
    expect(asOwner.rows[0].n).toBe(1);
  });
});

describe("the post-migration step", () => {
  it("grants a role holding USAGE exactly the routines RUNTIME_ROUTINES selects, once", async () => {
    await admin.query(`GRANT USAGE ON SCHEMA ${quoted} TO ${ident(byHand)}`);
    expect(await grantedTo(byHand)).toEqual([]);
    expect(await migrate(admin, schema)).toEqual([]); // the end-of-run pass runs the step

    const { rows } = await admin.query<{ signature: string }>(
      `SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS signature
         ${RUNTIME_ROUTINES} ORDER BY 1`,
      [schema],
    );
    const runtimeRoutines = rows.map((r) => r.signature);
    expect(runtimeRoutines.length).toBeGreaterThan(40);
    expect(await grantedTo(byHand)).toEqual(runtimeRoutines);
    expect(await notExecutable(byHand)).toEqual([]);

    // Nothing to fix the second time: the ACLs stay exactly as they are.
    const acls = () =>
      admin.query(
        `SELECT p.oid::regprocedure::text, p.proacl::text FROM pg_proc p
          WHERE p.pronamespace = $1::regnamespace ORDER BY 1`,
        [quoted],
      );
    const before = (await acls()).rows;
    await migrate(admin, schema);
    expect((await acls()).rows).toEqual(before);
  });

  it("revoking refuses to leave USAGE granted by another role, which the step would grant again", async () => {
    await admin.query(`GRANT USAGE ON SCHEMA ${quoted} TO ${ident(grantor)} WITH GRANT OPTION`);
    const client = await admin.connect();
    try {
      await client.query(`SET ROLE ${ident(grantor)}`);
      await client.query(`GRANT USAGE ON SCHEMA ${quoted} TO ${ident(viaGrantor)}`);
    } finally {
      await client.query("RESET ROLE");
      client.release();
    }
    await expect(revokeRuntimeRole(admin, schema, viaGrantor)).rejects.toThrow(
      new RegExp(`left USAGE granted by ${grantor}, so nothing was revoked`),
    );
  });
});
