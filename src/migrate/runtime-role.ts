/**
 * Runtime roles: a login role that a runtime (PostgresProvider with `migrate: false`) connects as,
 * allowed to call the store's functions of one schema and nothing else.
 *
 * Once least privilege is in effect (the post-migration step
 * migrations/post-migration/least_privilege.sql, from 0014 on) every store function is SECURITY
 * DEFINER with EXECUTE revoked from PUBLIC, so a runtime role needs exactly USAGE on the schema and EXECUTE on its functions: no
 * table, sequence or CREATE privilege. Trigger functions are left out (firing a trigger needs no
 * EXECUTE). Migrating stays with the schema's owner.
 *
 * The grant outlives migrations: the same post-migration step grants EXECUTE on every runtime
 * routine a later migration adds or re-creates to every role holding USAGE on the schema (its
 * owner aside), in that migration's transaction. USAGE is therefore what makes a runtime role, and
 * revoking takes it back too, so a revoked role is not granted again.
 */
import pg from "pg";
import {
  inSchemaTransaction,
  loadMigrations,
  loadPostMigrationSteps,
  MigrationError,
  type Queryable,
  quoteSchema,
  withClient,
} from "./migrations.ts";

function checkRoleName(role: string): void {
  if (typeof role !== "string" || role.length === 0) throw new MigrationError("role name must not be empty");
  if (role.includes("\0")) throw new MigrationError("role name must not contain NUL");
  if (Buffer.byteLength(role, "utf8") > 63) {
    throw new MigrationError(`role name is longer than 63 bytes (Postgres would truncate it): ${role}`);
  }
}

async function requireRole(client: pg.ClientBase, role: string): Promise<void> {
  const { rowCount } = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role]);
  if (!rowCount) {
    throw new MigrationError(
      `role ${pg.escapeIdentifier(role)} does not exist: create it first ` +
        `(CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN PASSWORD '…')`,
    );
  }
}

/**
 * The schema must have every post-migration step in effect (least privilege, from 0014), or its
 * functions would still run as the caller.
 */
async function requireLeastPrivilegeApplied(client: pg.ClientBase, schema: string): Promise<void> {
  const quoted = quoteSchema(schema);
  const steps = await loadPostMigrationSteps();
  if (steps.length === 0)
    throw new MigrationError("no post-migration step is declared: nothing grants least privilege");
  const from = Math.max(...steps.map((step) => step.fromVersion));
  const tracked = await client.query<{ ok: boolean }>("SELECT to_regclass($1) IS NOT NULL AS ok", [
    `${quoted}.schema_migrations`,
  ]);
  const applied =
    tracked.rows[0]?.ok &&
    (await client.query(`SELECT 1 FROM ${quoted}.schema_migrations WHERE version = $1`, [from])).rowCount ===
      1;
  if (!applied) {
    const migration = (await loadMigrations()).find((m) => m.version === from);
    throw new MigrationError(
      `schema ${schema} is not migrated to ${migration?.file ?? `version ${from}`}: migrate it before granting a runtime role`,
    );
  }
}

/**
 * The functions a runtime role may call: every function and procedure of schema $1 except trigger
 * functions and functions belonging to an extension installed in the schema. The post-migration
 * step selects the same set when it grants runtime roles (test/migrate/runtime-role-upgrade.test.ts).
 */
export const RUNTIME_ROUTINES = `
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = $1
   AND p.prokind IN ('f', 'p')
   AND p.prorettype <> 'trigger'::regtype
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')`;

/**
 * Grant `role` USAGE on `schema` and EXECUTE on every non-trigger function in it; nothing else.
 * The role must exist and the schema be migrated to 0014 or later. Idempotent.
 */
export async function grantRuntimeRole(db: Queryable, schema: string, role: string): Promise<void> {
  quoteSchema(schema);
  checkRoleName(role);
  // One transaction under the schema's migration lock (see lockSchemaInTransaction): the checks,
  // the function list and the grants see one state of the schema, and nothing outlives it.
  await withClient(db, async (client) => {
    await inSchemaTransaction(client, schema, `granting ${role} on schema ${schema} failed`, async () => {
      await requireRole(client, role);
      await requireLeastPrivilegeApplied(client, schema);
      // The statements are built by the server with format('%I'): schema, function and role names
      // are quoted there, and argument types come from pg_get_function_identity_arguments.
      const { rows } = await client.query<{ usage: string; execute: string | null }>(
        `SELECT format('GRANT USAGE ON SCHEMA %I TO %I', $1::text, $2::text) AS usage,
                format('GRANT EXECUTE ON ROUTINE %s TO %I',
                       string_agg(format('%I.%I(%s)', n.nspname, p.proname,
                                         pg_get_function_identity_arguments(p.oid)),
                                  ', ' ORDER BY p.proname, p.oid),
                       $2::text) AS execute
           ${RUNTIME_ROUTINES}`,
        [schema, role],
      );
      const row = rows[0]!;
      await client.query(row.usage);
      if (row.execute) await client.query(row.execute);
      // A GRANT by someone without the right to give it is only a warning: check it took effect.
      const check = await client.query<{ missing: string | null }>(
        `SELECT CASE WHEN NOT has_schema_privilege($2::text, $1::text, 'USAGE') THEN 'USAGE on the schema'
                     ELSE (SELECT string_agg(p.proname, ', ') ${RUNTIME_ROUTINES}
                              AND NOT has_function_privilege($2::text, p.oid, 'EXECUTE')) END AS missing`,
        [schema, role],
      );
      const missing = check.rows[0]?.missing;
      if (missing) {
        throw new MigrationError(
          `granting ${role} on schema ${schema} had no effect on ${missing}: ` +
            "run it as the schema's owner (the role that migrated it) or a superuser",
        );
      }
    });
  });
}

/**
 * Take back what grantRuntimeRole gave: USAGE on `schema` and EXECUTE on its functions. The role
 * must exist; other privileges it may hold elsewhere are left alone. Idempotent.
 */
export async function revokeRuntimeRole(db: Queryable, schema: string, role: string): Promise<void> {
  quoteSchema(schema);
  checkRoleName(role);
  await withClient(db, async (client) => {
    await inSchemaTransaction(client, schema, `revoking ${role} on schema ${schema} failed`, async () => {
      await requireRole(client, role);
      const { rows } = await client.query<{ execute: string; usage: string }>(
        `SELECT format('REVOKE EXECUTE ON ALL ROUTINES IN SCHEMA %I FROM %I', $1::text, $2::text) AS execute,
                format('REVOKE USAGE ON SCHEMA %I FROM %I', $1::text, $2::text) AS usage
          WHERE EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`,
        [schema, role],
      );
      const row = rows[0];
      if (!row) throw new MigrationError(`schema ${schema} does not exist`);
      await client.query(row.execute);
      await client.query(row.usage);
      // USAGE granted by another grantor survives this REVOKE, and the post-migration step would
      // then grant the role every function again at the next migration: say so instead.
      const left = await client.query<{ grantors: string | null }>(
        `SELECT string_agg(DISTINCT pg_get_userbyid(a.grantor), ', ') AS grantors
           FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a
          WHERE n.nspname = $1 AND a.privilege_type = 'USAGE' AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $2)`,
        [schema, role],
      );
      const grantors = left.rows[0]?.grantors;
      if (grantors) {
        throw new MigrationError(
          `revoking ${role} on schema ${schema} left USAGE granted by ${grantors}, so nothing was revoked: ` +
            "revoke that as its grantor first (while it stays, every migration grants the role the functions again)",
        );
      }
    });
  });
}
