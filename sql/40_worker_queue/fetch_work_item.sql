/*
 * fetch_work_item: lock the oldest available item this caller may run, for p_lock_timeout_ms,
 * with a fresh token, counting an attempt. Available: visible, and unlocked or its lock expired.
 *   Tags (p_tag_mode): 'default_only' untagged items only, 'tags' items whose tag is in p_tags,
 *   'default_and' both, 'any' everything; any other mode raises PD006.
 *   Sessions: p_owner_id NULL serves only items outside sessions; p_owner_id set also serves items
 *   of sessions this owner holds or nobody holds (never claimed, cleaned up or lease expired), and
 *   claims or refreshes that session for p_owner_id (lease now + p_session_lock_timeout_ms) in the
 *   same transaction; if another owner won the session in a race, nothing is locked or counted.
 * Never waits: the candidate row is taken FOR UPDATE SKIP LOCKED. No row when nothing is available.
 */
CREATE OR REPLACE FUNCTION fetch_work_item(
  p_now_ms                  bigint,
  p_lock_timeout_ms         bigint,
  p_owner_id                text,
  p_session_lock_timeout_ms bigint,
  p_tag_mode                text,
  p_tags                    text[]
) RETURNS TABLE (work_item text, lock_token text, attempt_count integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
#variable_conflict use_column
DECLARE
  v_id      bigint;
  v_session text;
  v_token   text := gen_random_uuid()::text;
BEGIN
  IF p_tag_mode NOT IN ('default_only', 'tags', 'default_and', 'any') THEN
    RAISE EXCEPTION 'unknown tag filter mode: %', p_tag_mode USING ERRCODE = 'PD006';
  END IF;
  SELECT q.id, q.session_id INTO v_id, v_session
    FROM worker_queue q
   WHERE q.visible_at_ms <= p_now_ms
     AND (q.lock_token IS NULL OR q.locked_until <= p_now_ms)
     AND CASE p_tag_mode
           WHEN 'default_only' THEN q.tag IS NULL
           WHEN 'tags' THEN q.tag = ANY (p_tags)
           WHEN 'default_and' THEN q.tag IS NULL OR q.tag = ANY (p_tags)
           ELSE true
         END
     AND (q.session_id IS NULL
          OR (p_owner_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM sessions s
                               WHERE s.session_id = q.session_id
                                 AND s.locked_until > p_now_ms
                                 AND s.owner_id <> p_owner_id)))
   ORDER BY q.id
   LIMIT 1
     FOR UPDATE OF q SKIP LOCKED;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  IF v_session IS NOT NULL AND NOT claim_session(v_session, p_owner_id, p_session_lock_timeout_ms, p_now_ms) THEN
    RETURN;
  END IF;
  RETURN QUERY
  UPDATE worker_queue q
     SET lock_token = v_token, locked_until = p_now_ms + p_lock_timeout_ms, attempt_count = q.attempt_count + 1
   WHERE q.id = v_id
  RETURNING q.work_item, q.lock_token, q.attempt_count;
END
$$;
