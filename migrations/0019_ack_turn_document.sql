-- The ack takes its turn as one named document instead of 33 positional parameters.
--
-- ack_orchestration_item(p_lock_token, p_now_ms, ...31 more) had runs of seven adjacent text and
-- five adjacent text[] parameters, so a swap type-checked on both sides, and every feature that
-- added a field changed the signature (a DROP spelling out the old one, a fresh prepared
-- statement). Now it is ack_orchestration_item(p_lock_token text, p_now_ms bigint, p_turn json):
-- p_turn is built and validated once by src/provider/turn-document.ts, every field is named, and
-- a missing field reads as NULL, so a future field changes the body only. The fourteen steps and
-- their errors are unchanged (the function's comment in sql/ lists the document's fields).
--
-- Why a JSON document: named-notation calls would still add a parameter (a new signature) per
-- field, and composite types need an ALTER TYPE per field plus array-literal encoding on the
-- client. json rather than jsonb: measured the same (scripts/bench-ack.ts, server time per ack),
-- and json builds no binary tree for a document read once. Payload texts (events, work items)
-- travel as JSON strings: embedded as raw JSON, a \u0000 escape inside one (legal in event text)
-- makes Postgres refuse to read any field of the enclosing object.
--
-- Upgrade note: a runtime of the previous release calls the dropped 33-argument function and fails
-- its acks until it is upgraded; a runtime role needs its grant run again for the new function
-- (docs/migrations.md, "Runtime roles").

DROP FUNCTION IF EXISTS ack_orchestration_item(text, bigint, bigint, bigint[], text[], text[], text[], text[],
  bigint[], bigint[], text[], text[], text[], text[], text[], bigint[], text, text, text, text, text, text, text,
  text[], text[], text[], bigint[], text[], bigint[], bigint[], integer, integer, integer);

CREATE OR REPLACE FUNCTION ack_orchestration_item(
  p_lock_token text,
  p_now_ms     bigint,
  p_turn       json
) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
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
