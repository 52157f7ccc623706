/* list_children: direct sub-orchestrations, oldest first; none for leaves and unknown ids. */
CREATE OR REPLACE FUNCTION list_children(p_instance text) RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT instance_id FROM instances WHERE parent_instance_id = p_instance ORDER BY created_at_ms, instance_id
$$;
