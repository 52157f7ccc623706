/*
 * prune_executions: delete the history and rows of the instance's old executions: not current,
 * not Running, not among the newest p_keep_last (NULL/0/1: only the current survives), and
 * completed before p_completed_before_ms when given. PD002 when the instance is unknown.
 */
CREATE OR REPLACE FUNCTION prune_executions(p_instance text, p_keep_last integer, p_completed_before_ms bigint)
RETURNS TABLE (executions_deleted bigint, events_deleted bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
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
