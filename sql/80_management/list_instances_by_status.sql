/* list_instances_by_status: instances whose CURRENT execution has exactly this status. */
CREATE OR REPLACE FUNCTION list_instances_by_status(p_status text) RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT i.instance_id
    FROM instances i
    JOIN executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id
   WHERE e.status = p_status
   ORDER BY i.created_at_ms DESC, i.instance_id
$$;
