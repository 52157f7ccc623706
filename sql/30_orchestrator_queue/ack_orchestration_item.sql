/*
 * ack_orchestration_item: commit one orchestration turn, all or nothing.
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
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
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
