/* list_instances: every instance with metadata, newest first. */
CREATE OR REPLACE FUNCTION list_instances() RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT instance_id FROM instances ORDER BY created_at_ms DESC, instance_id
$$;
