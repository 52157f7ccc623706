/* read_history_with_execution: the events of one execution, by event_id. */
CREATE OR REPLACE FUNCTION read_history_with_execution(p_instance text, p_execution_id bigint)
RETURNS TABLE (event_id bigint, event_data text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT h.event_id, h.event_data FROM history h
   WHERE h.instance_id = p_instance AND h.execution_id = p_execution_id
   ORDER BY h.event_id
$$;
