/*
 * ack_orchestration_item: commit one orchestration turn, all or nothing.
 *
 * The turn is one JSON document, p_turn, built and validated by src/provider/turn-document.ts
 * (buildAckTurn). Every field is named, so two values of the same type cannot be swapped unseen,
 * and a field missing from the document reads as NULL (an empty list for the lists): a new field
 * is a change of this body and of the builder, never of this signature. Keys this function does
 * not read are ignored. Payload texts travel as JSON strings, stored exactly as given.
 *   execution_id            bigint, required (PD006 when missing)
 *   events                  [{event_id, event_type, event_data}]     the history delta
 *   status, output          the execution's new status and output (text)
 *   orchestration_name, orchestration_version, parent_instance_id    instance metadata (text)
 *   custom_status_action    'set' | 'clear' | absent; custom_status the text set
 *   kv_ops                  [{op, key, value, updated_at_ms}]        op: set | clear_key | clear_all
 *   worker_items            [{work_item, instance_id, execution_id, activity_id, session_id, tag}]
 *   cancelled_activities    [{instance_id, execution_id, activity_id}]
 *   orchestrator_items      [{kind, work_item, instance_id, fire_at_ms}]
 *   pinned_major, pinned_minor, pinned_patch   the engine version pinned on a first turn (integer)
 *
 *   1. the token must hold an unexpired instance lock (PD001 "Invalid lock token"); the instance
 *      comes from the lock, never from the payloads;
 *   2. with both a name and a version: create the instance row if absent, set name and version,
 *      fill parent_instance_id only if it was NULL (immutable once set);
 *   3. create the execution row (Running) if absent;
 *   4. with a pinned version: overwrite the execution's major/minor/patch (the runtime sends it on
 *      an execution's first turn only; no write-once check);
 *   5. current_execution_id := greatest(current, execution_id);
 *   6. append the history delta as given (event_id 0 → PD006; an existing (instance, execution,
 *      event_id) → unique violation, the whole ack rolls back);
 *   7. with a status: set status and output, stamp completed_at for Completed, Failed and
 *      ContinuedAsNew;
 *   8. custom status: custom_status_action is what the LAST CustomStatusUpdated event of the
 *      delta asked for ('set' custom_status / 'clear'; absent when the delta has none); either
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
  p_lock_token text,
  p_now_ms     bigint,
  p_turn       json
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  v_instance text := lock_instance_for_token(p_lock_token, p_now_ms, true);
  t record;
  v_event_ids bigint[];
  v_event_types text[];
  v_event_data text[];
  v_kv_ops text[];
  v_kv_keys text[];
  v_kv_values text[];
  v_kv_updated_at_ms bigint[];
BEGIN
  -- The document's fields, read in one pass (the lists stay JSON until their step).
  SELECT * INTO t
    FROM json_to_record(p_turn) AS d(
           execution_id bigint, status text, output text, orchestration_name text,
           orchestration_version text, parent_instance_id text, custom_status_action text,
           custom_status text, pinned_major integer, pinned_minor integer, pinned_patch integer,
           events json, worker_items json, orchestrator_items json, kv_ops json,
           cancelled_activities json);
  IF t.execution_id IS NULL THEN
    RAISE EXCEPTION 'turn document: execution_id is missing' USING ERRCODE = 'PD006';
  END IF;

  -- 2. Instance row.
  IF t.orchestration_name IS NOT NULL AND t.orchestration_version IS NOT NULL THEN
    INSERT INTO instances AS i (instance_id, orchestration_name, orchestration_version, current_execution_id,
                                parent_instance_id, created_at_ms, updated_at_ms)
    VALUES (v_instance, t.orchestration_name, t.orchestration_version, t.execution_id,
            t.parent_instance_id, p_now_ms, p_now_ms)
    ON CONFLICT (instance_id) DO UPDATE
      SET orchestration_name = EXCLUDED.orchestration_name,
          orchestration_version = EXCLUDED.orchestration_version,
          parent_instance_id = COALESCE(i.parent_instance_id, EXCLUDED.parent_instance_id);
  END IF;

  -- 3. Execution row.
  INSERT INTO executions (instance_id, execution_id, status, started_at_ms)
  VALUES (v_instance, t.execution_id, 'Running', p_now_ms)
  ON CONFLICT (instance_id, execution_id) DO NOTHING;

  -- 4. Pinned engine version.
  IF t.pinned_major IS NOT NULL THEN
    UPDATE executions
       SET duroxide_version_major = t.pinned_major,
           duroxide_version_minor = COALESCE(t.pinned_minor, 0),
           duroxide_version_patch = COALESCE(t.pinned_patch, 0)
     WHERE instance_id = v_instance AND execution_id = t.execution_id;
  END IF;

  -- 5. Current execution.
  UPDATE instances
     SET current_execution_id = GREATEST(current_execution_id, t.execution_id), updated_at_ms = p_now_ms
   WHERE instance_id = v_instance;

  -- 6. History.
  SELECT array_agg(e.event_id ORDER BY e.n), array_agg(e.event_type ORDER BY e.n),
         array_agg(e.event_data ORDER BY e.n)
    INTO v_event_ids, v_event_types, v_event_data
    FROM ROWS FROM (json_to_recordset(t.events) AS (event_id bigint, event_type text, event_data text))
           WITH ORDINALITY AS e(event_id, event_type, event_data, n);
  PERFORM append_history_rows(v_instance, t.execution_id, v_event_ids, v_event_types, v_event_data, p_now_ms);

  -- 7. Execution status.
  IF t.status IS NOT NULL THEN
    UPDATE executions
       SET status = t.status,
           output = t.output,
           completed_at_ms = CASE WHEN t.status IN ('Completed', 'Failed', 'ContinuedAsNew') THEN p_now_ms
                                  ELSE completed_at_ms END
     WHERE instance_id = v_instance AND execution_id = t.execution_id;
  END IF;

  -- 8. Custom status.
  IF t.custom_status_action IN ('set', 'clear') THEN
    UPDATE instances
       SET custom_status = CASE WHEN t.custom_status_action = 'set' THEN t.custom_status END,
           custom_status_version = custom_status_version + 1
     WHERE instance_id = v_instance;
  ELSIF t.custom_status_action IS NOT NULL THEN
    RAISE EXCEPTION 'unknown custom status action %', t.custom_status_action USING ERRCODE = 'PD006';
  END IF;

  -- 9. KV.
  SELECT array_agg(o.op ORDER BY o.n), array_agg(o.key ORDER BY o.n), array_agg(o.value ORDER BY o.n),
         array_agg(o.updated_at_ms ORDER BY o.n)
    INTO v_kv_ops, v_kv_keys, v_kv_values, v_kv_updated_at_ms
    FROM ROWS FROM (json_to_recordset(t.kv_ops) AS (op text, key text, value text, updated_at_ms bigint))
           WITH ORDINALITY AS o(op, key, value, updated_at_ms, n);
  PERFORM apply_kv_ops(v_instance, v_kv_ops, v_kv_keys, v_kv_values, v_kv_updated_at_ms, p_now_ms);
  IF t.status IN ('Completed', 'Failed', 'ContinuedAsNew') THEN
    PERFORM merge_kv_delta(v_instance, t.execution_id);
  END IF;

  -- 10. Worker items.
  INSERT INTO worker_queue (kind, work_item, visible_at_ms, instance_id, execution_id, activity_id,
                            session_id, tag, created_at_ms)
  SELECT 'ActivityExecute', w.work_item, p_now_ms, w.instance_id, w.execution_id, w.activity_id,
         w.session_id, w.tag, p_now_ms
    FROM ROWS FROM (json_to_recordset(t.worker_items) AS (work_item text, instance_id text, execution_id bigint,
                                                         activity_id bigint, session_id text, tag text))
           WITH ORDINALITY AS w(work_item, instance_id, execution_id, activity_id, session_id, tag, n)
   ORDER BY w.n;

  -- 11. Cancelled activities.
  DELETE FROM worker_queue w
   USING json_to_recordset(t.cancelled_activities) AS c(instance_id text, execution_id bigint, activity_id bigint)
   WHERE w.instance_id = c.instance_id AND w.execution_id = c.execution_id AND w.activity_id = c.activity_id;

  -- 12. Orchestrator items.
  IF EXISTS (SELECT 1 FROM json_to_recordset(t.orchestrator_items) AS o(kind text) WHERE o.kind = 'ActivityExecute') THEN
    RAISE EXCEPTION 'ActivityExecute belongs to the worker queue, not the orchestrator queue'
      USING ERRCODE = 'PD006';
  END IF;
  INSERT INTO orchestrator_queue (instance_id, kind, work_item, visible_at_ms, created_at_ms)
  SELECT o.instance_id, o.kind, o.work_item,
         CASE WHEN o.kind = 'TimerFired' AND COALESCE(o.fire_at_ms, 0) > 0 THEN o.fire_at_ms ELSE p_now_ms END,
         p_now_ms
    FROM ROWS FROM (json_to_recordset(t.orchestrator_items) AS (kind text, work_item text, instance_id text,
                                                               fire_at_ms bigint))
           WITH ORDINALITY AS o(kind, work_item, instance_id, fire_at_ms, n)
   ORDER BY o.n;

  -- 13, 14. Consume the batch and release the lock.
  DELETE FROM orchestrator_queue WHERE lock_token = p_lock_token;
  DELETE FROM instance_locks WHERE instance_id = v_instance AND lock_token = p_lock_token;
END
$$;
