/*
 * abandon_orchestration_item: release a turn without committing it. The token must still own the
 * instance lock (an expired lock nobody has taken over is accepted), else PD001. The tagged rows
 * are untagged; with p_delay_ms > 0 they become visible at now + delay (without a delay their
 * visible_at is left alone); with p_ignore_attempt their attempt count is decremented (floor 0).
 */
CREATE OR REPLACE FUNCTION abandon_orchestration_item(
  p_lock_token     text,
  p_now_ms         bigint,
  p_delay_ms       bigint,
  p_ignore_attempt boolean
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  v_instance text := lock_instance_for_token(p_lock_token, p_now_ms, false);
BEGIN
  UPDATE orchestrator_queue
     SET lock_token = NULL,
         locked_until = NULL,
         visible_at_ms = CASE WHEN COALESCE(p_delay_ms, 0) > 0 THEN p_now_ms + p_delay_ms ELSE visible_at_ms END,
         attempt_count = CASE WHEN p_ignore_attempt THEN GREATEST(attempt_count - 1, 0) ELSE attempt_count END
   WHERE lock_token = p_lock_token;
  DELETE FROM instance_locks WHERE instance_id = v_instance AND lock_token = p_lock_token;
END
$$;
