-- Per-instance key/value state (contract §5.17, §7.10), driven by history events.
--
-- kv_store holds what finished executions (Completed, Failed, ContinuedAsNew) wrote; kv_delta holds
-- the current execution's writes (value NULL = tombstone) until the execution ends and the delta is
-- folded into the store. The fetch snapshot is kv_store only: replay re-applies the current
-- execution's KeyValueSet events itself, and seeing them twice would poison read-modify-write
-- code. Client reads see kv_store overlaid with kv_delta. Instance-scoped: pruning executions never
-- touches it; deleting the instance deletes both tables' rows.

CREATE TABLE kv_store (
  instance_id        text   NOT NULL,
  key                text   NOT NULL,
  value              text   NOT NULL,
  execution_id       bigint NOT NULL,          -- the execution that last wrote the key
  last_updated_at_ms bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (instance_id, key)
);

CREATE TABLE kv_delta (
  instance_id        text   NOT NULL,
  key                text   NOT NULL,
  value              text,                     -- NULL: cleared in the current execution
  last_updated_at_ms bigint NOT NULL,
  PRIMARY KEY (instance_id, key)
);

/*
 * apply_kv_ops: apply one turn's KV mutations, in order, to the instance's kv_delta:
 *   'set'       upsert (key, value, the event's last_updated_at_ms)
 *   'clear_key' upsert a tombstone (key, NULL, now)
 *   'clear_all' tombstone every delta row and every kv_store key (now)
 * Anything else → PD006.
 */
CREATE OR REPLACE FUNCTION apply_kv_ops(
  p_instance         text,
  p_ops              text[],
  p_keys             text[],
  p_values           text[],
  p_updated_at_ms    bigint[],
  p_now_ms           bigint
) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_op record;
BEGIN
  FOR v_op IN
    SELECT o.op, o.key, o.value, o.updated_at_ms
      FROM unnest(p_ops, p_keys, p_values, p_updated_at_ms) WITH ORDINALITY AS o(op, key, value, updated_at_ms, n)
     ORDER BY o.n
  LOOP
    CASE v_op.op
      WHEN 'set' THEN
        INSERT INTO kv_delta AS d (instance_id, key, value, last_updated_at_ms)
        VALUES (p_instance, v_op.key, v_op.value, COALESCE(v_op.updated_at_ms, 0))
        ON CONFLICT (instance_id, key) DO UPDATE
          SET value = EXCLUDED.value, last_updated_at_ms = EXCLUDED.last_updated_at_ms;
      WHEN 'clear_key' THEN
        INSERT INTO kv_delta AS d (instance_id, key, value, last_updated_at_ms)
        VALUES (p_instance, v_op.key, NULL, p_now_ms)
        ON CONFLICT (instance_id, key) DO UPDATE SET value = NULL, last_updated_at_ms = p_now_ms;
      WHEN 'clear_all' THEN
        UPDATE kv_delta SET value = NULL, last_updated_at_ms = p_now_ms WHERE instance_id = p_instance;
        INSERT INTO kv_delta (instance_id, key, value, last_updated_at_ms)
        SELECT s.instance_id, s.key, NULL, p_now_ms FROM kv_store s WHERE s.instance_id = p_instance
        ON CONFLICT (instance_id, key) DO NOTHING;
      ELSE
        RAISE EXCEPTION 'unknown KV operation %', v_op.op USING ERRCODE = 'PD006';
    END CASE;
  END LOOP;
END
$$;

/*
 * merge_kv_delta: the execution ended: upsert the delta's values into kv_store (recording the
 * writing execution), delete the keys it tombstoned, and empty the instance's delta.
 */
CREATE OR REPLACE FUNCTION merge_kv_delta(p_instance text, p_execution_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO kv_store AS s (instance_id, key, value, execution_id, last_updated_at_ms)
  SELECT d.instance_id, d.key, d.value, p_execution_id, d.last_updated_at_ms
    FROM kv_delta d
   WHERE d.instance_id = p_instance AND d.value IS NOT NULL
  ON CONFLICT (instance_id, key) DO UPDATE
    SET value = EXCLUDED.value, execution_id = EXCLUDED.execution_id, last_updated_at_ms = EXCLUDED.last_updated_at_ms;
  DELETE FROM kv_store s
   USING kv_delta d
   WHERE s.instance_id = p_instance AND d.instance_id = p_instance AND d.key = s.key AND d.value IS NULL;
  DELETE FROM kv_delta WHERE instance_id = p_instance;
END
$$;

DROP FUNCTION IF EXISTS fetch_orchestration_item(bigint, bigint);

DROP FUNCTION IF EXISTS ack_orchestration_item(text, bigint, bigint, bigint[], text[], text[], text[], text[],
  bigint[], bigint[], text[], text[], text[], text[], text[], bigint[], text, text, text, text, text, text, text);

/*
 * fetch_orchestration_item: lock the next ready instance and return its turn in one row, or no
 * row when no instance is ready.
 *
 * Two-phase locking, in a loop over candidates:
 *   1. peek, without row locks, the oldest visible message (visible_at_ms, id) of an instance that
 *      has no unexpired instance lock;
 *   2. try the instance's advisory lock; taken by someone else → next candidate (never block);
 *   3. re-verify under it: no unexpired instance lock, and lock the instance's visible rows that no
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
CREATE OR REPLACE FUNCTION fetch_orchestration_item(p_now_ms bigint, p_lock_timeout_ms bigint)
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
  p_kv_updated_at_ms      bigint[]
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

/*
 * get_kv_value: the live value of one key: the current execution's write if there is one (no row
 * when it is a tombstone), else the stored value; no row when the key is unset.
 */
CREATE OR REPLACE FUNCTION get_kv_value(p_instance text, p_key text)
RETURNS TABLE (value text)
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT AS $$
#variable_conflict use_column
DECLARE
  v_value text;
BEGIN
  SELECT d.value INTO v_value FROM kv_delta d WHERE d.instance_id = p_instance AND d.key = p_key;
  IF FOUND THEN
    IF v_value IS NOT NULL THEN
      value := v_value;
      RETURN NEXT;
    END IF;
    RETURN;
  END IF;
  RETURN QUERY SELECT s.value FROM kv_store s WHERE s.instance_id = p_instance AND s.key = p_key;
END
$$;

/* get_kv_all_values: every live key: kv_store overlaid with kv_delta, minus tombstones. */
CREATE OR REPLACE FUNCTION get_kv_all_values(p_instance text)
RETURNS TABLE (key text, value text)
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
  SELECT s.key, s.value
    FROM kv_store s
   WHERE s.instance_id = p_instance
     AND NOT EXISTS (SELECT 1 FROM kv_delta d WHERE d.instance_id = p_instance AND d.key = s.key)
  UNION ALL
  SELECT d.key, d.value
    FROM kv_delta d
   WHERE d.instance_id = p_instance AND d.value IS NOT NULL
$$;
