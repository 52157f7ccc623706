/*
 * claim_session: give p_session to p_owner (lease now + p_lease_ms, activity now) when nobody
 * holds it, its lease expired, or p_owner already holds it. False when another owner holds it.
 */
CREATE OR REPLACE FUNCTION claim_session(p_session text, p_owner text, p_lease_ms bigint, p_now_ms bigint)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO sessions AS s (session_id, owner_id, locked_until, last_activity_at)
  VALUES (p_session, p_owner, p_now_ms + p_lease_ms, p_now_ms)
  ON CONFLICT (session_id) DO UPDATE
     SET owner_id = EXCLUDED.owner_id, locked_until = EXCLUDED.locked_until, last_activity_at = EXCLUDED.last_activity_at
   WHERE s.locked_until <= p_now_ms OR s.owner_id = p_owner;
  RETURN FOUND;
END
$$;
