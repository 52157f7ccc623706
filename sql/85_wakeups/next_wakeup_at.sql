/*
 * The next moment work may appear in a queue without anyone enqueuing it: the earliest delayed
 * message coming due (start delay, timer, abandon backoff) or the earliest lock expiring (a
 * crashed holder). An idle long poll sleeps until then at the latest. NULL: nothing pending.
 */
CREATE OR REPLACE FUNCTION next_wakeup_at(p_queue text, p_now_ms bigint) RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  IF p_queue = 'orch' THEN
    RETURN LEAST(
      (SELECT min(visible_at_ms) FROM orchestrator_queue WHERE visible_at_ms > p_now_ms),
      (SELECT min(locked_until) FROM instance_locks WHERE locked_until > p_now_ms));
  END IF;
  RETURN LEAST(
    (SELECT min(visible_at_ms) FROM worker_queue WHERE visible_at_ms > p_now_ms),
    (SELECT min(locked_until) FROM worker_queue WHERE lock_token IS NOT NULL AND locked_until > p_now_ms));
END
$$;
