-- The worker (activity) queue: peek-lock per row, independent of instance locks.
-- Contract: provider-contract.md §5.2, §5.7–5.10, §7.1, §7.3.
--
-- Each row is locked by its own token; concurrent fetchers use FOR UPDATE SKIP LOCKED and so
-- never receive the same row and never wait on each other. Items are handed out in enqueue (id)
-- order, whatever the state of their orchestration.
--
-- Errors (class PD, never retried): PD001 invalid/expired lock token, PD006 invalid input.

/*
 * enqueue_worker_item: a new item, visible now, unlocked, attempt 0. The identity columns come
 * from the ActivityExecute (NULL for other variants): they drive cancellation, deletion by
 * instance, session routing and tag routing.
 */
CREATE OR REPLACE FUNCTION enqueue_worker_item(
  p_kind         text,
  p_work_item    text,
  p_instance     text,
  p_execution_id bigint,
  p_activity_id  bigint,
  p_session_id   text,
  p_tag          text,
  p_now_ms       bigint
) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO worker_queue (kind, work_item, visible_at_ms, instance_id, execution_id, activity_id,
                            session_id, tag, created_at_ms)
  VALUES (p_kind, p_work_item, p_now_ms, p_instance, p_execution_id, p_activity_id,
          p_session_id, p_tag, p_now_ms);
END
$$;

/*
 * fetch_work_item: lock the oldest available item (visible, and unlocked or its lock expired)
 * for p_lock_timeout_ms with a fresh token, counting an attempt. No row: nothing available.
 * This version serves only items outside sessions and without a tag; sessions (0008) and tag
 * routing (0009) replace it.
 */
CREATE OR REPLACE FUNCTION fetch_work_item(p_now_ms bigint, p_lock_timeout_ms bigint)
RETURNS TABLE (work_item text, lock_token text, attempt_count integer)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
#variable_conflict use_column
DECLARE
  v_id    bigint;
  v_token text := gen_random_uuid()::text;
BEGIN
  SELECT q.id INTO v_id
    FROM worker_queue q
   WHERE q.visible_at_ms <= p_now_ms
     AND (q.lock_token IS NULL OR q.locked_until <= p_now_ms)
     AND q.session_id IS NULL AND q.tag IS NULL
   ORDER BY q.id
   LIMIT 1
     FOR UPDATE SKIP LOCKED;
  IF NOT FOUND THEN
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
 * ack_work_item: complete an item. Deletes the row this token holds while its lock is valid and,
 * with a completion, puts it on the orchestrator queue of p_instance, visible now, in the same
 * transaction. PD001 when the token holds nothing valid (already acked, cancelled, deleted with its
 * instance, or expired even if nobody re-fetched it): then nothing is enqueued.
 */
CREATE OR REPLACE FUNCTION ack_work_item(
  p_lock_token      text,
  p_completion_kind text,
  p_completion      text,
  p_instance        text,
  p_now_ms          bigint
) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  DELETE FROM worker_queue WHERE lock_token = p_lock_token AND locked_until > p_now_ms;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'Invalid lock token or already processed: the work item is gone or its lock expired'
      USING ERRCODE = 'PD001';
  END IF;
  IF p_completion IS NOT NULL THEN
    INSERT INTO orchestrator_queue (instance_id, kind, work_item, visible_at_ms, created_at_ms)
    VALUES (p_instance, p_completion_kind, p_completion, p_now_ms, p_now_ms);
  END IF;
END
$$;

/*
 * renew_work_item_lock: extend a valid lock to now + p_extend_ms. PD001 when the token holds
 * nothing valid; for the runtime that failure is the activity's cancellation signal.
 */
CREATE OR REPLACE FUNCTION renew_work_item_lock(p_lock_token text, p_extend_ms bigint, p_now_ms bigint)
RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  UPDATE worker_queue SET locked_until = p_now_ms + p_extend_ms
   WHERE lock_token = p_lock_token AND locked_until > p_now_ms;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'Invalid lock token: the work item is gone, acked or its lock expired'
      USING ERRCODE = 'PD001';
  END IF;
END
$$;

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
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
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
