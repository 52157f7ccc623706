/* list_executions: execution ids ascending; works without an instances row; none for unknown. */
CREATE OR REPLACE FUNCTION list_executions(p_instance text) RETURNS SETOF bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT execution_id FROM executions WHERE instance_id = p_instance ORDER BY execution_id
$$;
