-- The applied migration versions of this schema, for the start-up check of a provider
-- (src/provider/schema-check.ts): is the schema there, and is it as new as the package?
--
-- A function rather than a read of schema_migrations because a runtime role (least privilege, see
-- 0014 and src/migrate/runtime-role.ts) may call the store's functions and touch no table. The
-- runner re-applies 0014 after this migration, which makes it SECURITY DEFINER and revokes
-- EXECUTE from PUBLIC like every other store function; `--grant-runtime-role` grants it.
-- schema_migrations itself is created by the runner before the first migration.
CREATE OR REPLACE FUNCTION applied_migration_versions() RETURNS integer[]
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
  SELECT coalesce(array_agg(version ORDER BY version), '{}') FROM schema_migrations
$$;
