-- Issue 15 §1: a large item must never arrive with its lock already expired, and one slow
-- instance must not capture every dispatcher (docs/limits.md).
--
-- 1. fetch_orchestration_item (last defined in 0007) now moves the fetched batch's visible_at_ms
--    up to the fetch time. The peek orders by (visible_at_ms, id) and treats an expired lock as
--    free, so a batch whose lock kept expiring (a transfer longer than the lock) used to be the
--    head of the queue for every slot of every runtime, each fetch costing another long transfer.
--    Now it takes its turn behind everything that became ready meanwhile. Nothing else changes:
--    the rows were visible (visible_at_ms <= p_now_ms), an ack deletes them, an abandon with a
--    delay sets visible_at_ms itself and one without leaves them visible at once.
-- 2. confirm_orchestration_item_lock / confirm_work_item_lock: the provider calls them right after
--    a fetch whose transfer took a large part of the lock timeout. The lease then starts when the
--    item is in hand. They extend the lock even if it has just expired, as long as the fetch's
--    token still holds it: a take-over always writes a new token (instance_locks.lock_token, or
--    worker_queue.lock_token on re-fetch), so an unchanged token proves nobody else took the item
--    and extending it cannot let two holders run it. Otherwise PD001, and the provider drops the
--    item (the attempt stays counted, so a never-deliverable item still reaches poison).

CREATE OR REPLACE FUNCTION fetch_orchestration_item(
  p_now_ms          bigint,
  p_lock_timeout_ms bigint,
  p_min_packed      bigint,
  p_max_packed      bigint
)
RETURNS TABLE (
  instance_id           text,
  has_instance          boolean,
  orchestration_name    text,
  orchestration_version text,
  execution_id          bigint,
  history               text[],
  messages              text[],
  message_kinds         text[],
  lock_token            text,
  attempt_count         integer,
  kv_keys               text[],
  kv_values             text[],
  kv_updated_at_ms      bigint[]
)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
#variable_conflict use_column
DECLARE
  v_skipped   text[] := '{}';
  v_instance  text;
  v_ids       bigint[];
  v_kinds     text[];
  v_token     text;
  v_locked    integer;
  v_has_row   boolean;
  v_name      text;
  v_version   text;
  v_execution bigint;
  v_messages  text[];
  v_attempts  integer;
  v_history   text[];
BEGIN
  LOOP
    -- 1. Peek.
    SELECT q.instance_id INTO v_instance
      FROM orchestrator_queue q
     WHERE q.visible_at_ms <= p_now_ms
       AND (q.lock_token IS NULL OR q.locked_until <= p_now_ms)
       AND q.instance_id <> ALL (v_skipped)
       AND NOT EXISTS (SELECT 1 FROM instance_locks l
                        WHERE l.instance_id = q.instance_id AND l.locked_until > p_now_ms)
       AND (p_min_packed IS NULL
            OR NOT EXISTS (SELECT 1
                             FROM instances i
                             JOIN executions e
                               ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id
                            WHERE i.instance_id = q.instance_id
                              AND packed_version(e.duroxide_version_major, e.duroxide_version_minor,
                                                 e.duroxide_version_patch)
                                  NOT BETWEEN p_min_packed AND p_max_packed))
     ORDER BY q.visible_at_ms, q.id
     LIMIT 1;
    IF NOT FOUND THEN
      RETURN;
    END IF;
    v_skipped := v_skipped || v_instance;

    -- 2. Advisory lock, without waiting.
    CONTINUE WHEN NOT pg_try_advisory_xact_lock(instance_lock_key(v_instance));

    -- 3. Re-verify and lock the batch.
    CONTINUE WHEN EXISTS (SELECT 1 FROM instance_locks l
                           WHERE l.instance_id = v_instance AND l.locked_until > p_now_ms);
    CONTINUE WHEN p_min_packed IS NOT NULL
              AND EXISTS (SELECT 1
                            FROM instances i
                            JOIN executions e
                              ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id
                           WHERE i.instance_id = v_instance
                             AND packed_version(e.duroxide_version_major, e.duroxide_version_minor,
                                                e.duroxide_version_patch)
                                 NOT BETWEEN p_min_packed AND p_max_packed);
    SELECT array_agg(b.id ORDER BY b.id), array_agg(b.kind ORDER BY b.id)
      INTO v_ids, v_kinds
      FROM (SELECT q.id, q.kind
              FROM orchestrator_queue q
             WHERE q.instance_id = v_instance
               AND q.visible_at_ms <= p_now_ms
               AND (q.lock_token IS NULL OR q.locked_until <= p_now_ms)
               FOR UPDATE SKIP LOCKED) b;
    CONTINUE WHEN v_ids IS NULL;

    -- 4. Instance metadata, and the orphan rule for instances nobody started.
    SELECT true, i.orchestration_name, i.orchestration_version, i.current_execution_id
      INTO v_has_row, v_name, v_version, v_execution
      FROM instances i
     WHERE i.instance_id = v_instance;
    IF NOT FOUND THEN
      v_has_row := false;
      v_name := NULL;
      v_version := NULL;
      SELECT max(e.execution_id) INTO v_execution FROM executions e WHERE e.instance_id = v_instance;
      IF v_execution IS NULL
         AND NOT ('StartOrchestration' = ANY (v_kinds) OR 'ContinueAsNew' = ANY (v_kinds)) THEN
        IF 'QueueMessage' = ALL (v_kinds) THEN
          DELETE FROM orchestrator_queue q WHERE q.id = ANY (v_ids);
        END IF;
        CONTINUE;
      END IF;
    END IF;

    -- 5. The instance lock: insert, or take over an expired one.
    v_token := gen_random_uuid()::text;
    INSERT INTO instance_locks AS l (instance_id, lock_token, locked_until, locked_at)
    VALUES (v_instance, v_token, p_now_ms + p_lock_timeout_ms, p_now_ms)
    ON CONFLICT (instance_id) DO UPDATE
      SET lock_token = EXCLUDED.lock_token, locked_until = EXCLUDED.locked_until, locked_at = EXCLUDED.locked_at
      WHERE l.locked_until <= p_now_ms;
    GET DIAGNOSTICS v_locked = ROW_COUNT;
    CONTINUE WHEN v_locked = 0;

    -- 6. Tag the batch.
    WITH tagged AS (
      UPDATE orchestrator_queue q
         SET lock_token = v_token,
             locked_until = p_now_ms + p_lock_timeout_ms,
             attempt_count = q.attempt_count + 1,
             -- Fair turns: a batch that comes back (its lock expired, or it was abandoned without
             -- a delay) queues behind what became ready before this fetch, instead of staying
             -- the oldest row that every peek of every runtime picks first.
             visible_at_ms = GREATEST(q.visible_at_ms, p_now_ms)
       WHERE q.id = ANY (v_ids)
      RETURNING q.id, q.work_item, q.attempt_count
    )
    SELECT array_agg(t.work_item ORDER BY t.id), max(t.attempt_count)
      INTO v_messages, v_attempts
      FROM tagged t;

    SELECT array_agg(h.event_data ORDER BY h.event_id) INTO v_history
      FROM history h
     WHERE h.instance_id = v_instance AND h.execution_id = v_execution;

    instance_id := v_instance;
    has_instance := v_has_row;
    orchestration_name := v_name;
    orchestration_version := v_version;
    execution_id := v_execution;
    history := COALESCE(v_history, '{}');
    messages := v_messages;
    message_kinds := v_kinds;
    lock_token := v_token;
    attempt_count := v_attempts;
    SELECT COALESCE(array_agg(s.key ORDER BY s.key), '{}'),
           COALESCE(array_agg(s.value ORDER BY s.key), '{}'),
           COALESCE(array_agg(s.last_updated_at_ms ORDER BY s.key), '{}')
      INTO kv_keys, kv_values, kv_updated_at_ms
      FROM kv_store s
     WHERE s.instance_id = v_instance;
    RETURN NEXT;
    RETURN;
  END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION confirm_orchestration_item_lock(
  p_lock_token text,
  p_now_ms     bigint,
  p_extend_ms  bigint
) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
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

CREATE OR REPLACE FUNCTION confirm_work_item_lock(p_lock_token text, p_extend_ms bigint, p_now_ms bigint)
RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
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
