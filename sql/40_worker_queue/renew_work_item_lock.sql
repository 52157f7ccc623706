/*
 * renew_work_item_lock: extend a live work item's lock to the later of its current deadline and
 * now + p_extend_ms (never shortening it). PD001 when the item is gone (acked, cancelled, deleted)
 * or its lock has expired: an expired lock is never revived. Renewing a session's item counts as
 * session activity (touch_session). Idempotent.
 */
CREATE OR REPLACE FUNCTION renew_work_item_lock(p_lock_token text, p_extend_ms bigint, p_now_ms bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  v_session text;
BEGIN
  UPDATE worker_queue SET locked_until = GREATEST(locked_until, p_now_ms + p_extend_ms)
   WHERE lock_token = p_lock_token AND locked_until > p_now_ms
  RETURNING session_id INTO v_session;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'Invalid lock token: the work item is gone, acked or its lock expired'
      USING ERRCODE = 'PD001';
  END IF;
  IF v_session IS NOT NULL THEN
    PERFORM touch_session(v_session, p_now_ms);
  END IF;
END
$$;
