/*
 * confirm_orchestration_item_lock: restart a just-fetched turn's lease at now + p_extend_ms, called
 * by the provider when the fetch's transfer took a large part of the lock timeout, so the lease
 * starts when the item is in hand. Unlike renew it accepts a lock that has just expired, as long
 * as the token still holds it: a take-over always writes a new token, so an unchanged token proves
 * nobody else took the instance. PD001 otherwise (the provider drops the item; the attempt stays
 * counted). Same lock order as renew. Idempotent.
 */
CREATE OR REPLACE FUNCTION confirm_orchestration_item_lock(
  p_lock_token text,
  p_now_ms     bigint,
  p_extend_ms  bigint
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  -- false: an expired lock still counts while the token holds it (see the header).
  v_instance text := lock_instance_for_token(p_lock_token, p_now_ms, false);
BEGIN
  UPDATE instance_locks SET locked_until = p_now_ms + p_extend_ms
   WHERE instance_id = v_instance AND lock_token = p_lock_token;
  UPDATE orchestrator_queue SET locked_until = p_now_ms + p_extend_ms
   WHERE lock_token = p_lock_token;
END
$$;
