-- Capability filtering (contract §5.3 step 0–1, §5.4 step 4, §7.7): every execution is pinned to
-- the engine version that started it, and a dispatcher only fetches instances whose current
-- execution it can replay. Versions compare as packed integers major*1000000 + minor*1000 + patch
-- (exact while minor and patch stay below 1000). NULL pins (old data, instances not started yet)
-- match every range.

ALTER TABLE executions
  ADD COLUMN duroxide_version_major integer,
  ADD COLUMN duroxide_version_minor integer,
  ADD COLUMN duroxide_version_patch integer;

-- The packed form of a version; NULL when there is no pin (NULL NOT BETWEEN … is NULL, i.e. not
-- excluded). Plain SQL without SET so the planner inlines it.
CREATE OR REPLACE FUNCTION packed_version(p_major integer, p_minor integer, p_patch integer) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
  SELECT p_major::bigint * 1000000 + p_minor::bigint * 1000 + p_patch::bigint
$$;

DROP FUNCTION IF EXISTS fetch_orchestration_item(bigint, bigint);

DROP FUNCTION IF EXISTS ack_orchestration_item(text, bigint, bigint, bigint[], text[], text[], text[], text[],
  bigint[], bigint[], text[], text[], text[], text[], text[], bigint[], text, text, text, text, text, text, text,
  text[], text[], text[], bigint[], text[], bigint[], bigint[]);

/*
 * fetch_orchestration_item: lock the next ready instance and return its turn in one row, or no
 * row when no instance is ready.
 *
 * Two-phase locking, in a loop over candidates:
 *   1. peek, without row locks, the oldest visible message (visible_at_ms, id) of an instance that
 *      has no unexpired instance lock and, when a version range [p_min_packed, p_max_packed] is
 *      given, whose current execution is pinned to a version in it or not pinned at all
 *      (instances without an instances row count as unpinned). Filtering here, before any lock
 *      or history read, means an old node never locks, let alone reads, history a newer engine
 *      wrote;
 *   2. try the instance's advisory lock; taken by someone else → next candidate (never block);
 *   3. re-verify under it: no unexpired instance lock, still within the version range, and lock the instance's visible rows that no
 *      unexpired token holds (FOR UPDATE SKIP LOCKED); nothing left → next candidate;
 *   4. unknown instances (no instances row, no executions, no StartOrchestration/ContinueAsNew in
 *      the batch): a batch of only QueueMessages is an orphan mailbox and is deleted; any other
 *      batch (e.g. a CancelInstance racing its start) is left untouched, attempts not counted, for
 *      when the start arrives → next candidate either way;
 *   5. insert the instance lock, or take over an expired one, with a fresh token; lost → next;
 *   6. tag the locked rows with the token and lock deadline and count an attempt on each.
 * A lost race therefore never makes the fetch report "nothing" while another instance is ready.
 *
 * Returns the raw material; the caller decodes it:
 *   has_instance          whether an instances row exists
 *   orchestration_name / orchestration_version   from the instances row (NULL otherwise)
 *   execution_id          instances.current_execution_id, else MAX(executions), else NULL (the
 *                         caller takes it from the batch's StartOrchestration)
 *   history               that execution's event texts by event_id ('{}' if none)
 *   messages / message_kinds   the tagged batch by id
 *   attempt_count         the maximum attempt count over the batch
 *   kv_keys / kv_values / kv_updated_at_ms   the instance's kv_store (finished executions only,
 *                         never kv_delta: replay rebuilds the current execution's writes itself)
 * The attempt increments commit with the lock even when the caller then fails to decode the
 * history: that is what lets a corrupt instance run into the poison path.
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
             attempt_count = q.attempt_count + 1
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

/*
 * ack_orchestration_item: commit one orchestration turn, all or nothing (contract §5.4).
 *   1. the token must hold an unexpired instance lock (PD001 "Invalid lock token"); the instance
 *      comes from the lock, never from the payloads;
 *   2. with both a name and a version: create the instance row if absent, set name and version,
 *      fill parent_instance_id only if it was NULL (immutable once set);
 *   3. create the execution row (Running) if absent;
 *   4. with a pinned version: overwrite the execution's major/minor/patch (the runtime sends it on
 *      an execution's first turn only; no write-once check);
 *   5. current_execution_id := greatest(current, p_execution_id);
 *   6. append the history delta as given (event_id 0 → PD006; an existing (instance, execution,
 *      event_id) → unique violation, the whole ack rolls back);
 *   7. with a status: set status and output, stamp completed_at for Completed, Failed and
 *      ContinuedAsNew;
 *   8. custom status: p_custom_status_action is what the LAST CustomStatusUpdated event of the
 *      delta asked for ('set' p_custom_status / 'clear'; NULL when the delta has none); either
 *      bumps custom_status_version once. Lives on the instance row: a no-op without one;
 *   9. KV: apply the delta's KeyValueSet / KeyValueCleared / KeyValuesCleared in order to
 *      kv_delta (apply_kv_ops); when the execution ends (Completed, Failed, ContinuedAsNew) fold
 *      kv_delta into kv_store (merge_kv_delta);
 *  10. insert the worker items (visible now) with their identity columns;
 *  11. cancelled activities: delete the worker rows matching (instance, execution_id, activity_id),
 *      locked or not (the worker learns it at its next renew or ack); after step 10, so an
 *      activity scheduled and cancelled in the same turn leaves nothing; unknown ids are a no-op;
 *  12. insert the orchestrator items, each on its routing instance's queue, visible now or, for a
 *      TimerFired with fire_at_ms > 0, at fire_at_ms;
 *  13. delete the batch tagged with this token (messages that arrived during the turn stay);
 *  14. release the lock.
 * Any failure rolls everything back, so the lock is still held by the same token afterwards.
 */
CREATE OR REPLACE FUNCTION ack_orchestration_item(
  p_lock_token            text,
  p_now_ms                bigint,
  p_execution_id          bigint,
  p_event_ids             bigint[],
  p_event_types           text[],
  p_event_data            text[],
  p_worker_items          text[],
  p_worker_instances      text[],
  p_worker_execution_ids  bigint[],
  p_worker_activity_ids   bigint[],
  p_worker_session_ids    text[],
  p_worker_tags           text[],
  p_orch_kinds            text[],
  p_orch_items            text[],
  p_orch_instances        text[],
  p_orch_fire_at_ms       bigint[],
  p_status                text,
  p_output                text,
  p_orchestration_name    text,
  p_orchestration_version text,
  p_parent_instance_id    text,
  p_custom_status_action  text,
  p_custom_status         text,
  p_kv_ops                text[],
  p_kv_keys               text[],
  p_kv_values             text[],
  p_kv_updated_at_ms      bigint[],
  p_cancel_instances      text[],
  p_cancel_execution_ids  bigint[],
  p_cancel_activity_ids   bigint[],
  p_pinned_major          integer,
  p_pinned_minor          integer,
  p_pinned_patch          integer
) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_instance text := lock_instance_for_token(p_lock_token, p_now_ms, true);
BEGIN
  -- 2. Instance row.
  IF p_orchestration_name IS NOT NULL AND p_orchestration_version IS NOT NULL THEN
    INSERT INTO instances AS i (instance_id, orchestration_name, orchestration_version, current_execution_id,
                                parent_instance_id, created_at_ms, updated_at_ms)
    VALUES (v_instance, p_orchestration_name, p_orchestration_version, p_execution_id,
            p_parent_instance_id, p_now_ms, p_now_ms)
    ON CONFLICT (instance_id) DO UPDATE
      SET orchestration_name = EXCLUDED.orchestration_name,
          orchestration_version = EXCLUDED.orchestration_version,
          parent_instance_id = COALESCE(i.parent_instance_id, EXCLUDED.parent_instance_id);
  END IF;

  -- 3. Execution row.
  INSERT INTO executions (instance_id, execution_id, status, started_at_ms)
  VALUES (v_instance, p_execution_id, 'Running', p_now_ms)
  ON CONFLICT (instance_id, execution_id) DO NOTHING;

  -- 4. Pinned engine version.
  IF p_pinned_major IS NOT NULL THEN
    UPDATE executions
       SET duroxide_version_major = p_pinned_major,
           duroxide_version_minor = COALESCE(p_pinned_minor, 0),
           duroxide_version_patch = COALESCE(p_pinned_patch, 0)
     WHERE instance_id = v_instance AND execution_id = p_execution_id;
  END IF;

  -- 5. Current execution.
  UPDATE instances
     SET current_execution_id = GREATEST(current_execution_id, p_execution_id), updated_at_ms = p_now_ms
   WHERE instance_id = v_instance;

  -- 6. History.
  PERFORM append_history_rows(v_instance, p_execution_id, p_event_ids, p_event_types, p_event_data, p_now_ms);

  -- 7. Execution status.
  IF p_status IS NOT NULL THEN
    UPDATE executions
       SET status = p_status,
           output = p_output,
           completed_at_ms = CASE WHEN p_status IN ('Completed', 'Failed', 'ContinuedAsNew') THEN p_now_ms
                                  ELSE completed_at_ms END
     WHERE instance_id = v_instance AND execution_id = p_execution_id;
  END IF;

  -- 8. Custom status.
  IF p_custom_status_action IN ('set', 'clear') THEN
    UPDATE instances
       SET custom_status = CASE WHEN p_custom_status_action = 'set' THEN p_custom_status END,
           custom_status_version = custom_status_version + 1
     WHERE instance_id = v_instance;
  ELSIF p_custom_status_action IS NOT NULL THEN
    RAISE EXCEPTION 'unknown custom status action %', p_custom_status_action USING ERRCODE = 'PD006';
  END IF;

  -- 9. KV.
  PERFORM apply_kv_ops(v_instance, p_kv_ops, p_kv_keys, p_kv_values, p_kv_updated_at_ms, p_now_ms);
  IF p_status IN ('Completed', 'Failed', 'ContinuedAsNew') THEN
    PERFORM merge_kv_delta(v_instance, p_execution_id);
  END IF;

  -- 10. Worker items.
  INSERT INTO worker_queue (kind, work_item, visible_at_ms, instance_id, execution_id, activity_id,
                            session_id, tag, created_at_ms)
  SELECT 'ActivityExecute', w.item, p_now_ms, w.instance, w.execution_id, w.activity_id, w.session_id, w.tag, p_now_ms
    FROM unnest(p_worker_items, p_worker_instances, p_worker_execution_ids, p_worker_activity_ids,
                p_worker_session_ids, p_worker_tags)
           WITH ORDINALITY AS w(item, instance, execution_id, activity_id, session_id, tag, n)
   ORDER BY w.n;

  -- 11. Cancelled activities.
  DELETE FROM worker_queue w
   USING unnest(p_cancel_instances, p_cancel_execution_ids, p_cancel_activity_ids) AS c(instance, execution_id, activity_id)
   WHERE w.instance_id = c.instance AND w.execution_id = c.execution_id AND w.activity_id = c.activity_id;

  -- 12. Orchestrator items.
  IF 'ActivityExecute' = ANY (p_orch_kinds) THEN
    RAISE EXCEPTION 'ActivityExecute belongs to the worker queue, not the orchestrator queue'
      USING ERRCODE = 'PD006';
  END IF;
  INSERT INTO orchestrator_queue (instance_id, kind, work_item, visible_at_ms, created_at_ms)
  SELECT o.instance, o.kind, o.item,
         CASE WHEN o.kind = 'TimerFired' AND COALESCE(o.fire_at_ms, 0) > 0 THEN o.fire_at_ms ELSE p_now_ms END,
         p_now_ms
    FROM unnest(p_orch_kinds, p_orch_items, p_orch_instances, p_orch_fire_at_ms)
           WITH ORDINALITY AS o(kind, item, instance, fire_at_ms, n)
   ORDER BY o.n;

  -- 13, 14. Consume the batch and release the lock.
  DELETE FROM orchestrator_queue WHERE lock_token = p_lock_token;
  DELETE FROM instance_locks WHERE instance_id = v_instance AND lock_token = p_lock_token;
END
$$;

