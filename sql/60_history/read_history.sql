/*
 * read_history: the events of an instance's latest execution (MAX(execution_id) in executions,
 * 1 when there is none), by event_id. Works without an instances row. Unknown instance: no rows.
 */
CREATE OR REPLACE FUNCTION read_history(p_instance text)
RETURNS TABLE (event_id bigint, event_data text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
#variable_conflict use_column
DECLARE
  v_execution bigint;
BEGIN
  SELECT COALESCE(max(e.execution_id), 1) INTO v_execution FROM executions e WHERE e.instance_id = p_instance;
  RETURN QUERY
    SELECT h.event_id, h.event_data FROM history h
     WHERE h.instance_id = p_instance AND h.execution_id = v_execution
     ORDER BY h.event_id;
END
$$;
