/* get_instance_info: the instance row with its current execution; PD002 when unknown. */
CREATE OR REPLACE FUNCTION get_instance_info(p_instance text)
RETURNS TABLE (
  instance_id           text,
  orchestration_name    text,
  orchestration_version text,
  current_execution_id  bigint,
  status                text,
  output                text,
  created_at_ms         bigint,
  updated_at_ms         bigint,
  parent_instance_id    text
)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT i.instance_id, i.orchestration_name, COALESCE(i.orchestration_version, 'unknown'),
         i.current_execution_id, COALESCE(e.status, 'Running'), e.output,
         i.created_at_ms, i.updated_at_ms, i.parent_instance_id
    FROM instances i
    LEFT JOIN executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id
   WHERE i.instance_id = p_instance;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'Instance % not found', p_instance USING ERRCODE = 'PD002';
  END IF;
END
$$;
