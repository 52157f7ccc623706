-- post-migration step, from migration 0014 on
--
-- Least privilege, kept true by construction. The runner (src/migrate/migrations.ts) runs every
-- file of migrations/post-migration/ in the transaction of each migration it applies once the
-- schema is at or past the version on the first line, and once more at the end of every run
-- (docs/migrations.md explains why). This file is not a migration: it has no version and no
-- checksum, and it states the rule as it is today, so it may be edited; it must stay idempotent.
--
-- Every function that pins its search_path to this schema (`SET search_path FROM CURRENT`,
-- captured by the runner as `<schema>, pg_temp`) becomes SECURITY DEFINER, and EXECUTE is revoked
-- from PUBLIC on every function: a runtime role then needs only EXECUTE on the functions, nothing
-- on the tables. CREATE OR REPLACE FUNCTION resets SECURITY DEFINER and a new function starts
-- executable by PUBLIC, which is why this runs after every migration rather than once. A function
-- pinned elsewhere, or a definer one that is not pinned, is refused; the one kind allowed without a
-- pinned search_path is a pure IMMUTABLE helper (packed_version), left SECURITY INVOKER so the
-- planner can inline it. Migration 0014 introduced the rule with the same statement.
--
-- Runtime roles keep working across migrations: every role granted USAGE on this schema, other
-- than its owner, is a runtime role (`--grant-runtime-role` grants USAGE and EXECUTE,
-- `--revoke-runtime-role` takes both back), and it is granted EXECUTE on every runtime routine it
-- may not execute yet: a function or procedure that is neither a trigger function nor an
-- extension's (the set RUNTIME_ROUTINES selects in src/migrate/runtime-role.ts;
-- test/migrate/runtime-role-upgrade.test.ts checks both select the same). So a function a
-- migration adds, or drops and re-creates, is callable by the runtimes in the same commit, with
-- no second grant. PUBLIC is never a runtime role, even where it holds USAGE (the `public` schema).
DO $least_privilege$
DECLARE
  v_schema text := current_schema();
  -- How pg_proc.proconfig spells `SET search_path FROM CURRENT` captured under the runner's
  -- `SET LOCAL search_path TO <schema>, pg_temp` (list GUCs quote each element with quote_ident).
  v_pinned text := 'search_path=' || quote_ident(current_schema()) || ', pg_temp';
  fn record;
  runtime record;
BEGIN
  IF v_schema IS NULL OR v_schema IN ('pg_catalog', 'information_schema') THEN
    RAISE EXCEPTION 'least privilege: no target schema on the search_path (got %)', v_schema;
  END IF;
  FOR fn IN
    SELECT p.proname,
           pg_get_function_identity_arguments(p.oid) AS args,
           p.prokind,
           p.provolatile,
           p.prosecdef,
           p.proconfig,
           EXISTS (SELECT 1
                     FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                    WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE') AS public_execute
      FROM pg_proc p
      JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = v_schema
       -- functions of an extension installed in this schema belong to the extension, not to us
       AND NOT EXISTS (SELECT 1 FROM pg_depend d
                        WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
     ORDER BY p.proname, p.oid
  LOOP
    IF fn.prokind NOT IN ('f', 'p') THEN
      RAISE EXCEPTION 'least privilege: %.%(%) is an aggregate or window function; not expected in the store',
        v_schema, fn.proname, fn.args;
    ELSIF v_pinned = ANY (coalesce(fn.proconfig, '{}'::text[])) THEN
      IF NOT fn.prosecdef THEN
        EXECUTE format('ALTER ROUTINE %I.%I(%s) SECURITY DEFINER', v_schema, fn.proname, fn.args);
      END IF;
    ELSIF fn.prosecdef OR fn.proconfig IS NOT NULL OR fn.provolatile <> 'i' OR fn.prokind <> 'f' THEN
      RAISE EXCEPTION 'least privilege: %.%(%) does not pin its search_path to this schema (proconfig %); '
        'every store function needs SET search_path FROM CURRENT', v_schema, fn.proname, fn.args, fn.proconfig;
    END IF;
    IF fn.public_execute THEN
      EXECUTE format('REVOKE EXECUTE ON ROUTINE %I.%I(%s) FROM PUBLIC', v_schema, fn.proname, fn.args);
    END IF;
  END LOOP;
  -- One GRANT per runtime role naming what it lacks; none when nothing is missing.
  FOR runtime IN
    WITH runtime_roles AS (
      SELECT DISTINCT a.grantee -- once, whoever granted it
        FROM pg_namespace n
       CROSS JOIN LATERAL aclexplode(n.nspacl) a
       WHERE n.nspname = v_schema AND a.privilege_type = 'USAGE' AND a.grantee <> n.nspowner
    )
    SELECT r.rolname,
           string_agg(format('%I.%I(%s)', v_schema, p.proname, pg_get_function_identity_arguments(p.oid)),
                      ', ' ORDER BY p.proname, p.oid) AS routines
      FROM runtime_roles g
      JOIN pg_roles r ON r.oid = g.grantee -- PUBLIC (grantee 0) has no pg_roles row
      JOIN pg_namespace n ON n.nspname = v_schema
      JOIN pg_proc p ON p.pronamespace = n.oid
     WHERE p.prokind IN ('f', 'p')
       AND p.prorettype <> 'trigger'::regtype
       AND NOT EXISTS (SELECT 1 FROM pg_depend d
                        WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
       AND NOT has_function_privilege(g.grantee, p.oid, 'EXECUTE')
     GROUP BY r.rolname
     ORDER BY r.rolname
  LOOP
    EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO %I', runtime.routines, runtime.rolname);
  END LOOP;
END
$least_privilege$;
