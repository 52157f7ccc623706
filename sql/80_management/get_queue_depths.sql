/*
 * get_queue_depths: messages available now: visible, not held by an unexpired token, and (for
 * orchestrator messages) not behind an unexpired instance lock.
 */
CREATE OR REPLACE FUNCTION get_queue_depths(p_now_ms bigint)
RETURNS TABLE (orchestrator_queue bigint, worker_queue bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT (SELECT count(*)
            FROM orchestrator_queue q
           WHERE q.visible_at_ms <= p_now_ms
             AND (q.lock_token IS NULL OR q.locked_until <= p_now_ms)
             AND NOT EXISTS (SELECT 1 FROM instance_locks l
                              WHERE l.instance_id = q.instance_id AND l.locked_until > p_now_ms)),
         (SELECT count(*)
            FROM worker_queue w
           WHERE w.visible_at_ms <= p_now_ms
             AND (w.lock_token IS NULL OR w.locked_until <= p_now_ms))
$$;
