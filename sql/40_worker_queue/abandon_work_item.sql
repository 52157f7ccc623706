/*
 * abandon_work_item: release an item without completing it, visible again at now + delay.
 * Expiry is not checked (a worker may abandon after its lock lapsed, as long as nobody re-locked
 * it). p_ignore_attempt takes back the attempt this fetch counted, never below 0.
 */
CREATE OR REPLACE FUNCTION abandon_work_item(
  p_lock_token     text,
  p_delay_ms       bigint,
  p_ignore_attempt boolean,
  p_now_ms         bigint
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  UPDATE worker_queue
     SET lock_token = NULL,
         locked_until = NULL,
         visible_at_ms = p_now_ms + GREATEST(COALESCE(p_delay_ms, 0), 0),
         attempt_count = CASE WHEN p_ignore_attempt THEN GREATEST(attempt_count - 1, 0) ELSE attempt_count END
   WHERE lock_token = p_lock_token;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'Invalid lock token or already acked' USING ERRCODE = 'PD001';
  END IF;
END
$$;
