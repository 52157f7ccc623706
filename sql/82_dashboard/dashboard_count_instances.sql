/*
 * dashboard_count_instances: how many instances match the dashboard's filters (see
 * dashboard_instance_filter), counting at most p_cap of them: the answer is exact below the cap and
 * p_cap means "at least that many". The cap bounds the cost on a large store.
 */
CREATE OR REPLACE FUNCTION dashboard_count_instances(
  p_status          text,
  p_name            text,
  p_created_from_ms bigint,
  p_created_to_ms   bigint,
  p_id_pattern      text,
  p_id_contains     text,
  p_cap             integer
) RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  v_count bigint;
BEGIN
  EXECUTE format(
    'SELECT count(*) FROM (SELECT 1
                             FROM instances i
                             LEFT JOIN executions e
                               ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id
                            WHERE %s
                            LIMIT $7) matching',
    dashboard_instance_filter(p_status, p_name, p_created_from_ms, p_created_to_ms, p_id_pattern, p_id_contains))
    INTO v_count
    USING p_status, p_name, p_created_from_ms, p_created_to_ms, p_id_pattern, p_id_contains, p_cap;
  RETURN v_count;
END
$$;
