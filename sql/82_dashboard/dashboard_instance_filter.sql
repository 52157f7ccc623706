/*
 * dashboard_instance_filter: the WHERE clause of the dashboard's instance list and count, built
 * from which filters are set (NULL: not filtering). It returns SQL text that names the filter
 * values only as parameters $1..$6 (status, orchestration name, created from, created to, id LIKE
 * pattern, id substring), never the values themselves, so the callers EXECUTE it with USING.
 * The instance's status is its current execution's (COALESCE'd to Running like get_instance_info).
 * Pure, but a definer with a pinned search_path like every store function but packed_version
 * (migrations/post-migration/least_privilege.sql).
 */
CREATE OR REPLACE FUNCTION dashboard_instance_filter(
  p_status          text,
  p_name            text,
  p_created_from_ms bigint,
  p_created_to_ms   bigint,
  p_id_pattern      text,
  p_id_contains     text
) RETURNS text
LANGUAGE sql IMMUTABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT array_to_string(ARRAY['true']
    || CASE WHEN p_status IS NULL THEN '{}'::text[] ELSE ARRAY['COALESCE(e.status, ''Running'') = $1'] END
    || CASE WHEN p_name IS NULL THEN '{}'::text[] ELSE ARRAY['i.orchestration_name = $2'] END
    || CASE WHEN p_created_from_ms IS NULL THEN '{}'::text[] ELSE ARRAY['i.created_at_ms >= $3'] END
    || CASE WHEN p_created_to_ms IS NULL THEN '{}'::text[] ELSE ARRAY['i.created_at_ms < $4'] END
    || CASE WHEN p_id_pattern IS NULL THEN '{}'::text[] ELSE ARRAY['i.instance_id LIKE $5'] END
    || CASE WHEN p_id_contains IS NULL THEN '{}'::text[] ELSE ARRAY['strpos(i.instance_id, $6) > 0'] END,
    ' AND ')
$$;
