/*
 * renew_session_lock: extend, in one call for all of a runtime's owner ids, every session they
 * hold whose lease is still valid and that saw activity within p_idle_timeout_ms. Expired sessions
 * are not revived and idle ones are left to lapse. Returns how many were extended.
 */
CREATE OR REPLACE FUNCTION renew_session_lock(
  p_owner_ids       text[],
  p_extend_ms       bigint,
  p_idle_timeout_ms bigint,
  p_now_ms          bigint
) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  v_count integer;
BEGIN
  UPDATE sessions SET locked_until = p_now_ms + p_extend_ms
   WHERE owner_id = ANY (p_owner_ids)
     AND locked_until > p_now_ms
     AND last_activity_at > p_now_ms - p_idle_timeout_ms;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$$;
