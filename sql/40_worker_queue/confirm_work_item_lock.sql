/*
 * confirm_work_item_lock: restart a just-fetched item's lock at now + p_extend_ms, called by the
 * provider when the fetch's transfer took a large part of the lock timeout. Accepts a lock that
 * has just expired while the token is unchanged (a re-fetch always writes a new token, so nobody
 * else holds the item); PD001 when the token is gone. Counts as session activity. Idempotent.
 */
CREATE OR REPLACE FUNCTION confirm_work_item_lock(p_lock_token text, p_extend_ms bigint, p_now_ms bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  v_session text;
BEGIN
  UPDATE worker_queue SET locked_until = p_now_ms + p_extend_ms
   WHERE lock_token = p_lock_token
  RETURNING session_id INTO v_session;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'Invalid lock token: the work item is gone, acked or fetched again by another worker'
      USING ERRCODE = 'PD001';
  END IF;
  IF v_session IS NOT NULL THEN
    PERFORM touch_session(v_session, p_now_ms);
  END IF;
END
$$;
