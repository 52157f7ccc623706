/*
 * fetch_orchestration_item: lock the next ready instance for one turn and return everything the
 * turn needs: instance metadata, the current execution's history, the batch of messages, a fresh
 * lock token, the attempt count and the KV snapshot (kv_store only, never the current delta).
 *   Picks the instance of the oldest visible message (by visible_at_ms, id) not leased by an
 *   unexpired token, that no unexpired instance lock holds and, with p_min_packed set, whose
 *   current execution's pinned version lies in [p_min_packed, p_max_packed] (NULL pins pass).
 *   Never waits: the instance's advisory lock is only try-locked and the batch rows are taken
 *   FOR UPDATE SKIP LOCKED; an instance lost to a concurrent fetcher is skipped for the next one.
 *   The batch is every visible message of the instance not under a live lease (hidden ones
 *   included); it is tagged with the token, its lock set to now + p_lock_timeout_ms, its attempt
 *   count incremented, and its visible_at_ms moved up to now (a batch that comes back queues
 *   behind what became ready meanwhile).
 *   The instance lock is inserted, or taken over only when expired (a new token every time).
 *   Orphans: messages for an instance with no instance and no execution row, and no
 *   StartOrchestration or ContinueAsNew among them, are not served; if they are all QueueMessage
 *   they are deleted.
 * No row when nothing is ready. Raises nothing of its own.
 *
 * Cost does not grow with the messages of locked instances. Messages that arrive for an instance
 * while a turn holds it (a fan-in of thousands of completions) cannot be taken until the lock
 * goes; a peek that filtered them row by row walked all of them on every fetch. Instead they are
 * hidden: held_by := the lock's token, written only under the instance's advisory lock after
 * re-reading the lock row there (so that lock row cannot go before the writer commits). Most are
 * born hidden (hold_message_for_locked_instance); the first fetch that meets one that is not (its
 * insert lost the try-lock, or it became visible later) hides every unleased message of that
 * instance. The peek reads
 *   ready     unleased, not hidden, visible rows in (visible_at_ms, id) order, from
 *             orchestrator_queue_ready_idx (a locked instance's rows not yet hidden are met once,
 *             then hidden);
 *   expired   leased rows whose lease has passed: orchestrator_queue_lease_end_idx;
 *   released  the rows of instances whose lock row has expired (a small table: one row per live
 *             or abandoned-by-crash turn), hidden ones included;
 * and takes the smallest (visible_at_ms, id) of the three. Why these cover every row a fetch may
 * take (visible; unleased or lease passed; its instance not under a live lock): an unleased row is
 * ready unless hidden; a hidden row's held_by names a lock row of its instance (release_held_messages
 * un-hides rows when that lock row is deleted or re-tokened), so if its instance is not under a live
 * lock, that lock row is expired and the row is found as released. The batch itself does not use
 * held_by (a take-over of an expired lock takes the hidden rows too, and its new token releases
 * the rest), so message order, TimerFired visibility (visible_at_ms is never touched by hiding) and
 * attempt counting are as before. Costs that remain: a lock found expired makes the peek sort that
 * instance's rows until a fetch takes it over; an instance whose advisory lock is busy (its holder
 * is acking) cannot be hidden by this fetch, whose later peeks then skip its rows one by one.
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
  v_holder    text;
BEGIN
  LOOP
    -- 1. Peek: the oldest of the three candidate sets (see the header). Each probe is a scan of
    -- its own index; OFFSET 0 keeps the expired-lease probe one (the planner would otherwise walk
    -- orchestrator_queue_visible_idx in order, filtering every row it cannot take).
    SELECT c.instance_id INTO v_instance
      FROM ((SELECT q.instance_id, q.visible_at_ms, q.id
               FROM orchestrator_queue q
              WHERE q.lock_token IS NULL AND q.held_by IS NULL
                AND q.visible_at_ms <= p_now_ms
                AND q.instance_id <> ALL (v_skipped)
                -- The capability filter as a per-row probe of the row's instance: a NOT EXISTS
                -- here may be planned as a hash of every incompatible instance, built by reading
                -- all of instances and executions on every fetch. NULL (no row, no pin) passes.
                AND (p_min_packed IS NULL
                     OR NOT COALESCE((SELECT packed_version(e.duroxide_version_major, e.duroxide_version_minor,
                                                            e.duroxide_version_patch)
                                             NOT BETWEEN p_min_packed AND p_max_packed
                                        FROM instances i
                                        JOIN executions e
                                          ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id
                                       WHERE i.instance_id = q.instance_id), false))
              ORDER BY q.visible_at_ms, q.id
              LIMIT 1)
            UNION ALL
            (SELECT x.instance_id, x.visible_at_ms, x.id
               FROM (SELECT q.instance_id, q.visible_at_ms, q.id
                       FROM orchestrator_queue q
                      WHERE q.lock_token IS NOT NULL AND q.locked_until <= p_now_ms
                        AND q.visible_at_ms <= p_now_ms
                        AND q.instance_id <> ALL (v_skipped)
                     OFFSET 0) x
              ORDER BY x.visible_at_ms, x.id
              LIMIT 1)
            UNION ALL
            (SELECT r.instance_id, r.visible_at_ms, r.id
               FROM instance_locks l
               CROSS JOIN LATERAL (
                 SELECT q.instance_id, q.visible_at_ms, q.id
                   FROM orchestrator_queue q
                  WHERE q.instance_id = l.instance_id
                    AND q.visible_at_ms <= p_now_ms
                    AND (q.lock_token IS NULL OR q.locked_until <= p_now_ms)
                  ORDER BY q.visible_at_ms, q.id
                  LIMIT 1) r
              WHERE l.locked_until <= p_now_ms
                AND l.instance_id <> ALL (v_skipped)
              ORDER BY r.visible_at_ms, r.id
              LIMIT 1)) c
     ORDER BY c.visible_at_ms, c.id
     LIMIT 1;
    IF NOT FOUND THEN
      RETURN;
    END IF;
    v_skipped := v_skipped || v_instance;

    -- 2. Advisory lock, without waiting.
    CONTINUE WHEN NOT pg_try_advisory_xact_lock(instance_lock_key(v_instance));

    -- 3. Re-verify (a new statement under the advisory lock sees the lock row as its last writer
    -- committed it). Under a live lock: hide the instance's unleased rows behind that lock's token
    -- so later peeks never walk them, and move on.
    SELECT l.lock_token INTO v_holder
      FROM instance_locks l
     WHERE l.instance_id = v_instance AND l.locked_until > p_now_ms;
    IF FOUND THEN
      UPDATE orchestrator_queue q
         SET held_by = v_holder
       WHERE q.id IN (SELECT u.id
                        FROM orchestrator_queue u
                       WHERE u.instance_id = v_instance AND u.lock_token IS NULL AND u.held_by IS NULL
                         FOR UPDATE SKIP LOCKED);
      CONTINUE;
    END IF;
    -- The capability filter again (the ready probe applied it before the lock; the two small
    -- probes leave it to this check), now that no ack can change the pinned version meanwhile.
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
             held_by = NULL,
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
