/*
 * renew_orchestration_item_lock: extend a live turn's lease to the later of its current deadline
 * and now + p_extend_ms (never shortening it), on the instance lock and on the rows tagged with the
 * token. PD001 when the token holds no instance lock or the lock has expired: an expired lease is
 * never revived. Waits for the instance's advisory lock, then row-locks the lease (the order ack
 * and abandon use; fetch only try-locks), so it cannot deadlock with them. Idempotent.
 */
CREATE OR REPLACE FUNCTION renew_orchestration_item_lock(
  p_lock_token text,
  p_now_ms     bigint,
  p_extend_ms  bigint
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  -- Waits for the instance's advisory lock, then row-locks the lease: the same order as ack and
  -- abandon, and fetch only ever try-locks, so renew cannot deadlock with them.
  v_instance text := lock_instance_for_token(p_lock_token, p_now_ms, true);
BEGIN
  UPDATE instance_locks SET locked_until = GREATEST(locked_until, p_now_ms + p_extend_ms)
   WHERE instance_id = v_instance AND lock_token = p_lock_token;
  UPDATE orchestrator_queue SET locked_until = GREATEST(locked_until, p_now_ms + p_extend_ms)
   WHERE lock_token = p_lock_token;
END
$$;
