/*
 * fetch_orchestration_item: lock the next ready instance for one turn and return everything the
 * turn needs: instance metadata, the current execution's history, the batch of messages, a fresh
 * lock token, the attempt count and the KV snapshot (kv_store only, never the current delta).
 *   Picks the instance of the oldest visible message (by visible_at_ms, id) whose rows are not
 *   held by an unexpired token, that no unexpired instance lock holds and, with p_min_packed set,
 *   whose current execution's pinned version lies in [p_min_packed, p_max_packed] (NULL pins pass).
 *   Never waits: the instance's advisory lock is only try-locked and the batch rows are taken
 *   FOR UPDATE SKIP LOCKED; an instance lost to a concurrent fetcher is skipped for the next one.
 *   The batch is every visible, unheld message of the instance; it is tagged with the token, its
 *   lock set to now + p_lock_timeout_ms, its attempt count incremented, and its visible_at_ms moved
 *   up to now (a batch that comes back queues behind what became ready meanwhile).
 *   The instance lock is inserted, or taken over only when expired (a new token every time).
 *   Orphans: messages for an instance with no instance and no execution row, and no
 *   StartOrchestration or ContinueAsNew among them, are not served; if they are all QueueMessage
 *   they are deleted.
 * No row when nothing is ready. Raises nothing of its own.
 */
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
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
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
