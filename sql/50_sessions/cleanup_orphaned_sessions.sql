/*
 * cleanup_orphaned_sessions: delete sessions whose lease expired and that no queued item (locked
 * or not) still references. A later item of the same session simply claims it anew.
 */
CREATE OR REPLACE FUNCTION cleanup_orphaned_sessions(p_now_ms bigint) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  v_count integer;
BEGIN
  DELETE FROM sessions s
   WHERE s.locked_until < p_now_ms
     AND NOT EXISTS (SELECT 1 FROM worker_queue q WHERE q.session_id = s.session_id);
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$$;
