/*
 * touch_session: activity on a session's item (ack, renew) counts as session activity, but only
 * while the lease is valid: a session someone else took over is left alone. Never fails.
 */
CREATE OR REPLACE FUNCTION touch_session(p_session text, p_now_ms bigint) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path FROM CURRENT AS $$
  UPDATE sessions SET last_activity_at = p_now_ms WHERE session_id = p_session AND locked_until > p_now_ms
$$;
