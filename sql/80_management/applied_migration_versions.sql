/*
 * applied_migration_versions: the versions recorded in this schema's schema_migrations (created
 * by the migration runner), ascending; empty when none. For the start-up check of a provider
 * (src/provider/schema-check.ts): is the schema there, and is it as new as the package? A function
 * rather than a read of the table because a runtime role may call the store's functions and touch
 * no table (migrations/post-migration/least_privilege.sql).
 */
CREATE OR REPLACE FUNCTION applied_migration_versions() RETURNS integer[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT coalesce(array_agg(version ORDER BY version), '{}') FROM schema_migrations
$$;
