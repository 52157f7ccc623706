/*
 * prune_candidates: the instances pruneExecutionsBulk visits, of ANY status (an eternal
 * continue-as-new actor is Running and is exactly what needs pruning), oldest first.
 */
CREATE OR REPLACE FUNCTION prune_candidates(p_ids text[], p_completed_before_ms bigint, p_limit integer)
RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT i.instance_id
    FROM instances i
    LEFT JOIN executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id
   WHERE (p_ids IS NULL OR i.instance_id = ANY (p_ids))
     AND (p_completed_before_ms IS NULL OR e.completed_at_ms < p_completed_before_ms)
   ORDER BY i.created_at_ms, i.instance_id
   LIMIT p_limit
$$;
