/*
 * delete_instances_atomic: delete every listed instance and everything of it, in one transaction.
 *   PD003 when not p_force and a listed instance's current execution is Running;
 *   PD005 when an instance outside the list has its parent inside it (the tree changed since it
 *   was read): nothing is deleted then.
 * Returns the numbers of instances, executions, history events and queue rows deleted.
 */
CREATE OR REPLACE FUNCTION delete_instances_atomic(p_ids text[], p_force boolean)
RETURNS TABLE (
  instances_deleted      bigint,
  executions_deleted     bigint,
  events_deleted         bigint,
  queue_messages_deleted bigint
)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  v_ids       text[];
  v_id        text;
  v_instances bigint;
  v_execs     bigint;
  v_events    bigint;
  v_orch      bigint;
  v_work      bigint;
BEGIN
  SELECT COALESCE(array_agg(DISTINCT x ORDER BY x), '{}') INTO v_ids FROM unnest(p_ids) AS x;
  IF cardinality(v_ids) = 0 THEN
    RETURN QUERY SELECT 0::bigint, 0::bigint, 0::bigint, 0::bigint;
    RETURN;
  END IF;
  FOREACH v_id IN ARRAY v_ids LOOP
    PERFORM pg_advisory_xact_lock(instance_lock_key(v_id));
  END LOOP;
  PERFORM 1 FROM instances WHERE instance_id = ANY (v_ids) ORDER BY instance_id FOR UPDATE;

  IF NOT p_force THEN
    SELECT i.instance_id INTO v_id
      FROM instances i
      JOIN executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id
     WHERE i.instance_id = ANY (v_ids) AND e.status = 'Running'
     ORDER BY i.instance_id
     LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'Instance % is Running. Use force=true to delete.', v_id USING ERRCODE = 'PD003';
    END IF;
  END IF;

  SELECT c.instance_id INTO v_id
    FROM instances c
   WHERE c.parent_instance_id = ANY (v_ids) AND NOT (c.instance_id = ANY (v_ids))
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'Orphan detected: instance % is a child of an instance in the delete list but is not included (delete the whole tree)', v_id
      USING ERRCODE = 'PD005';
  END IF;

  DELETE FROM history WHERE instance_id = ANY (v_ids);
  GET DIAGNOSTICS v_events = ROW_COUNT;
  DELETE FROM executions WHERE instance_id = ANY (v_ids);
  GET DIAGNOSTICS v_execs = ROW_COUNT;
  DELETE FROM orchestrator_queue WHERE instance_id = ANY (v_ids);
  GET DIAGNOSTICS v_orch = ROW_COUNT;
  DELETE FROM worker_queue WHERE instance_id = ANY (v_ids);
  GET DIAGNOSTICS v_work = ROW_COUNT;
  DELETE FROM instance_locks WHERE instance_id = ANY (v_ids);
  DELETE FROM kv_store WHERE instance_id = ANY (v_ids);
  DELETE FROM kv_delta WHERE instance_id = ANY (v_ids);
  DELETE FROM instances WHERE instance_id = ANY (v_ids);
  GET DIAGNOSTICS v_instances = ROW_COUNT;
  RETURN QUERY SELECT v_instances, v_execs, v_events, v_orch + v_work;
END
$$;
