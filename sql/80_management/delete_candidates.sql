/*
 * delete_candidates: the roots deleteInstanceBulk removes: root instances whose current execution
 * is terminal, optionally only listed ids and only completed before a time, oldest first.
 */
CREATE OR REPLACE FUNCTION delete_candidates(p_ids text[], p_completed_before_ms bigint, p_limit integer)
RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT i.instance_id
    FROM instances i
    JOIN executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id
   WHERE i.parent_instance_id IS NULL
     AND e.status IN ('Completed', 'Failed', 'ContinuedAsNew')
     AND (p_ids IS NULL OR i.instance_id = ANY (p_ids))
     AND (p_completed_before_ms IS NULL OR e.completed_at_ms < p_completed_before_ms)
   ORDER BY i.created_at_ms, i.instance_id
   LIMIT p_limit
$$;
