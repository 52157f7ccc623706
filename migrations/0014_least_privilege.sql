-- Least privilege: a runtime can run as a role that may only call the store's functions, never
-- touch its tables (grant one with `npm run migrate -- --schema S --grant-runtime-role ROLE`).
--
-- Every function that pins its search_path to this schema (`SET search_path FROM CURRENT`,
-- captured by the runner as `<schema>, pg_temp`) becomes SECURITY DEFINER: it runs with its
-- owner's rights, so the caller needs EXECUTE on it and nothing on the tables. The pinned
-- search_path is what makes that safe: a caller cannot put objects of its own in front of the
-- store's tables or operators (pg_temp comes last, so temporary objects cannot shadow them either).
-- A function whose search_path is pinned elsewhere, or a SECURITY DEFINER one that is not pinned,
-- is refused. The one kind of function allowed without a pinned search_path is a pure IMMUTABLE
-- helper (packed_version): it reads nothing, stays SECURITY INVOKER so the planner can still
-- inline it, and is only ever called from inside definer functions.
--
-- EXECUTE is revoked from PUBLIC on every function (Postgres grants it to PUBLIC by default), so
-- only the owner and roles granted explicitly may call them. Trigger functions are included: they
-- are made SECURITY DEFINER like the others (they always run inside a definer function anyway,
-- since only those write to the tables), and nobody needs EXECUTE on them to fire a trigger.
--
-- CREATE OR REPLACE FUNCTION resets SECURITY DEFINER (it keeps the grants), and a new function
-- starts with EXECUTE for PUBLIC. So the migration runner (src/migrate/migrations.ts) runs this
-- file again, in the same transaction, after every later migration, and once at the end of every
-- run. It is idempotent and touches only what is not already as it should be.
DO $least_privilege$
DECLARE
  v_schema text := current_schema();
  -- How pg_proc.proconfig spells `SET search_path FROM CURRENT` captured under the runner's
  -- `SET LOCAL search_path TO <schema>, pg_temp` (list GUCs quote each element with quote_ident).
  v_pinned text := 'search_path=' || quote_ident(current_schema()) || ', pg_temp';
  fn record;
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
END
$least_privilege$;
