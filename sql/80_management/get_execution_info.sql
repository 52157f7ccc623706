/* get_execution_info: one execution with its event count; works without an instances row. */
CREATE OR REPLACE FUNCTION get_execution_info(p_instance text, p_execution_id bigint)
RETURNS TABLE (
  execution_id    bigint,
  status          text,
  output          text,
  started_at_ms   bigint,
  completed_at_ms bigint,
  event_count     bigint
)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT e.execution_id, e.status, e.output, e.started_at_ms, e.completed_at_ms,
         (SELECT count(*) FROM history h WHERE h.instance_id = e.instance_id AND h.execution_id = e.execution_id)
    FROM executions e
   WHERE e.instance_id = p_instance AND e.execution_id = p_execution_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'Execution % of instance % not found', p_execution_id, p_instance USING ERRCODE = 'PD002';
  END IF;
END
$$;
