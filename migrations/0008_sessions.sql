-- Sessions: activity affinity. Items carrying a session_id go to the one owner holding that
-- session's lease, so in-memory state can be reused across activities of the session.
-- Contract: provider-contract.md §5.7 (session predicate and claim), §5.8, §5.9, §5.11, §5.12, §7.5.
--
-- The activity lock (worker_queue.locked_until) and the session lease (sessions.locked_until)
-- are independent: either may expire while the other holds.

CREATE TABLE sessions (
  session_id       text   PRIMARY KEY,
  owner_id         text   NOT NULL,
  locked_until     bigint NOT NULL,
  last_activity_at bigint NOT NULL
);
CREATE INDEX sessions_owner_idx ON sessions (owner_id);
CREATE INDEX worker_queue_session_idx ON worker_queue (session_id) WHERE session_id IS NOT NULL;

DROP FUNCTION IF EXISTS fetch_work_item(bigint, bigint);

/*
 * fetch_work_item: lock the oldest available item this caller may run, for p_lock_timeout_ms,
 * with a fresh token, counting an attempt.
 *   p_owner_id NULL: only items outside sessions.
 *   p_owner_id set: also items of sessions this owner holds or nobody holds (never claimed,
 *   cleaned up, or lease expired). Fetching such an item claims or refreshes the session for
 *   p_owner_id (lease now + p_session_lock_timeout_ms) in the same transaction; if another owner
 *   won the session in a race, nothing is locked or counted and no row is returned.
 * Tag routing (0009) extends this with a tag filter; here only untagged items are served.
 */
CREATE FUNCTION fetch_work_item(
  p_now_ms                  bigint,
  p_lock_timeout_ms         bigint,
  p_owner_id                text,
  p_session_lock_timeout_ms bigint
) RETURNS TABLE (work_item text, lock_token text, attempt_count integer)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
#variable_conflict use_column
DECLARE
  v_id      bigint;
  v_session text;
  v_token   text := gen_random_uuid()::text;
BEGIN
  SELECT q.id, q.session_id INTO v_id, v_session
    FROM worker_queue q
   WHERE q.visible_at_ms <= p_now_ms
     AND (q.lock_token IS NULL OR q.locked_until <= p_now_ms)
     AND q.tag IS NULL
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

/*
 * claim_session: give p_session to p_owner (lease now + p_lease_ms, activity now) when nobody
 * holds it, its lease expired, or p_owner already holds it. False when another owner holds it.
 */
CREATE FUNCTION claim_session(p_session text, p_owner text, p_lease_ms bigint, p_now_ms bigint)
RETURNS boolean
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO sessions AS s (session_id, owner_id, locked_until, last_activity_at)
  VALUES (p_session, p_owner, p_now_ms + p_lease_ms, p_now_ms)
  ON CONFLICT (session_id) DO UPDATE
     SET owner_id = EXCLUDED.owner_id, locked_until = EXCLUDED.locked_until, last_activity_at = EXCLUDED.last_activity_at
   WHERE s.locked_until <= p_now_ms OR s.owner_id = p_owner;
  RETURN FOUND;
END
$$;

/*
 * touch_session: activity on a session's item (ack, renew) counts as session activity, but only
 * while the lease is valid: a session someone else took over is left alone. Never fails.
 */
CREATE FUNCTION touch_session(p_session text, p_now_ms bigint) RETURNS void
LANGUAGE sql SET search_path FROM CURRENT AS $$
  UPDATE sessions SET last_activity_at = p_now_ms WHERE session_id = p_session AND locked_until > p_now_ms
$$;

/* ack_work_item, as in 0003, plus: acking a session's item refreshes the session's activity. */
CREATE OR REPLACE FUNCTION ack_work_item(
  p_lock_token      text,
  p_completion_kind text,
  p_completion      text,
  p_instance        text,
  p_now_ms          bigint
) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_session text;
BEGIN
  DELETE FROM worker_queue WHERE lock_token = p_lock_token AND locked_until > p_now_ms
  RETURNING session_id INTO v_session;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'Invalid lock token or already processed: the work item is gone or its lock expired'
      USING ERRCODE = 'PD001';
  END IF;
  IF p_completion IS NOT NULL THEN
    INSERT INTO orchestrator_queue (instance_id, kind, work_item, visible_at_ms, created_at_ms)
    VALUES (p_instance, p_completion_kind, p_completion, p_now_ms, p_now_ms);
  END IF;
  IF v_session IS NOT NULL THEN
    PERFORM touch_session(v_session, p_now_ms);
  END IF;
END
$$;

/* renew_work_item_lock, as in 0003, plus: renewing a session's item refreshes the session's activity. */
CREATE OR REPLACE FUNCTION renew_work_item_lock(p_lock_token text, p_extend_ms bigint, p_now_ms bigint)
RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_session text;
BEGIN
  UPDATE worker_queue SET locked_until = p_now_ms + p_extend_ms
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

/*
 * renew_session_lock: extend, in one call for all of a runtime's owner ids, every session they
 * hold whose lease is still valid and that saw activity within p_idle_timeout_ms. Expired sessions
 * are not revived and idle ones are left to lapse. Returns how many were extended.
 */
CREATE FUNCTION renew_session_lock(
  p_owner_ids       text[],
  p_extend_ms       bigint,
  p_idle_timeout_ms bigint,
  p_now_ms          bigint
) RETURNS integer
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
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

/*
 * cleanup_orphaned_sessions: delete sessions whose lease expired and that no queued item (locked
 * or not) still references. A later item of the same session simply claims it anew.
 */
CREATE FUNCTION cleanup_orphaned_sessions(p_now_ms bigint) RETURNS integer
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_count integer;
BEGIN
  DELETE FROM sessions s
   WHERE s.locked_until < p_now_ms
     AND NOT EXISTS (SELECT 1 FROM worker_queue q WHERE q.session_id = s.session_id);
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$$;
