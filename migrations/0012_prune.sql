-- Pruning old executions of continue-as-new chains. Contract: provider-contract.md §6
-- (pruneExecutions, pruneExecutionsBulk). The current execution is never pruned, nor a Running
-- one; KV state is instance-scoped and never touched.

/*
 * prune_executions: delete the history and rows of the instance's old executions: not current,
 * not Running, not among the newest p_keep_last (NULL/0/1: only the current survives), and
 * completed before p_completed_before_ms when given. PD002 when the instance is unknown.
 */
CREATE FUNCTION prune_executions(p_instance text, p_keep_last integer, p_completed_before_ms bigint)
RETURNS TABLE (executions_deleted bigint, events_deleted bigint)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_current bigint;
  v_doomed  bigint[];
  v_events  bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(instance_lock_key(p_instance));
  SELECT current_execution_id INTO v_current FROM instances WHERE instance_id = p_instance;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'Instance % not found', p_instance USING ERRCODE = 'PD002';
  END IF;
  SELECT COALESCE(array_agg(e.execution_id), '{}') INTO v_doomed
    FROM executions e
   WHERE e.instance_id = p_instance
     AND e.execution_id <> v_current
     AND e.status <> 'Running'
     AND (p_completed_before_ms IS NULL OR e.completed_at_ms < p_completed_before_ms)
     AND e.execution_id NOT IN (
           SELECT k.execution_id FROM executions k
            WHERE k.instance_id = p_instance
            ORDER BY k.execution_id DESC
            LIMIT GREATEST(COALESCE(p_keep_last, 1), 1));
  DELETE FROM history WHERE instance_id = p_instance AND execution_id = ANY (v_doomed);
  GET DIAGNOSTICS v_events = ROW_COUNT;
  DELETE FROM executions WHERE instance_id = p_instance AND execution_id = ANY (v_doomed);
  RETURN QUERY SELECT cardinality(v_doomed)::bigint, v_events;
END
$$;

/*
 * prune_candidates: the instances pruneExecutionsBulk visits, of ANY status (an eternal
 * continue-as-new actor is Running and is exactly what needs pruning), oldest first.
 */
CREATE FUNCTION prune_candidates(p_ids text[], p_completed_before_ms bigint, p_limit integer)
RETURNS SETOF text
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
  SELECT i.instance_id
    FROM instances i
    LEFT JOIN executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id
   WHERE (p_ids IS NULL OR i.instance_id = ANY (p_ids))
     AND (p_completed_before_ms IS NULL OR e.completed_at_ms < p_completed_before_ms)
   ORDER BY i.created_at_ms, i.instance_id
   LIMIT p_limit
$$;
