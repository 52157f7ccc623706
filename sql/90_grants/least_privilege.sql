/*
 * Least privilege: a runtime can run as a role that may only call the store's functions, never
 * touch its tables (grant one with `npm run migrate -- --schema S --grant-runtime-role ROLE`).
 *
 * Every store function is declared SECURITY DEFINER with `SET search_path FROM CURRENT` (captured
 * as `<schema>, pg_temp`): it runs with its owner's rights, and the pinned search_path is what
 * makes that safe, since a caller cannot put objects of its own in front of the store's tables or
 * operators. The one exception is packed_version, a pure IMMUTABLE helper without SET, left
 * SECURITY INVOKER so the planner can inline it.
 *
 * This step revokes EXECUTE from PUBLIC on every function of the schema (Postgres grants it by
 * default), so only the owner and roles granted explicitly may call them, and refuses a function
 * that breaks the rule above (a definer function that does not pin its search_path to this schema,
 * or a pinned one that is not a definer). Idempotent. The migration runner keeps migrated schemas
 * the same way with its post-migration step, migrations/post-migration/least_privilege.sql, run
 * after every migration from 0014 on (docs/migrations.md).
 */
DO $least_privilege$
DECLARE
  v_pinned text := 'search_path=' || quote_ident(current_schema()) || ', pg_temp';
  fn record;
BEGIN
  FOR fn IN
    SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS args, p.provolatile, p.prosecdef,
           p.proconfig, coalesce(v_pinned = ANY (p.proconfig), false) AS pinned
      FROM pg_proc p
      JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = current_schema()
     ORDER BY p.proname, p.oid
  LOOP
    IF fn.pinned <> fn.prosecdef OR (NOT fn.pinned AND (fn.proconfig IS NOT NULL OR fn.provolatile <> 'i')) THEN
      RAISE EXCEPTION 'least privilege: %(%) must be SECURITY DEFINER with SET search_path FROM CURRENT '
        '(or a pure IMMUTABLE helper with neither); it has SECURITY %, proconfig %',
        fn.proname, fn.args, CASE WHEN fn.prosecdef THEN 'DEFINER' ELSE 'INVOKER' END, fn.proconfig;
    END IF;
    EXECUTE format('REVOKE EXECUTE ON ROUTINE %I.%I(%s) FROM PUBLIC', current_schema(), fn.proname, fn.args);
  END LOOP;
END
$least_privilege$;
