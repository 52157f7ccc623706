-- Deleting instances: atomically, with their sub-orchestrations, and never leaving an orphan or a
-- zombie. Contract: provider-contract.md §6 (deleteInstancesAtomic, deleteInstance,
-- deleteInstanceBulk), §7.4, §7.12.
--
-- Each listed instance's advisory lock (instance_lock_key) is taken first, in sorted id order, so
-- a delete never interleaves with a fetch/ack of the same instance and two deletes cannot
-- deadlock. Removing the instance lock row is what makes an in-flight ack fail (no zombie);
-- removing worker rows is what makes a stale activity's ack fail after delete + recreate.

/*
 * delete_instances_atomic: delete every listed instance and everything of it, in one transaction.
 *   PD003 when not p_force and a listed instance's current execution is Running;
 *   PD005 when an instance outside the list has its parent inside it (the tree changed since it
 *   was read): nothing is deleted then.
 * Returns the numbers of instances, executions, history events and queue rows deleted.
 */
CREATE FUNCTION delete_instances_atomic(p_ids text[], p_force boolean)
RETURNS TABLE (
  instances_deleted      bigint,
  executions_deleted     bigint,
  events_deleted         bigint,
  queue_messages_deleted bigint
)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
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

/*
 * delete_instance: delete a root instance with its whole tree, in one transaction.
 * PD002 when unknown; PD004 when it is a sub-orchestration (even with p_force: delete the root).
 */
CREATE FUNCTION delete_instance(p_instance text, p_force boolean)
RETURNS TABLE (
  instances_deleted      bigint,
  executions_deleted     bigint,
  events_deleted         bigint,
  queue_messages_deleted bigint
)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_parent text;
BEGIN
  SELECT parent_instance_id INTO v_parent FROM instances WHERE instance_id = p_instance;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'Instance % not found', p_instance USING ERRCODE = 'PD002';
  END IF;
  IF v_parent IS NOT NULL THEN
    RAISE EXCEPTION 'Cannot delete sub-orchestration % directly (its parent is %): delete its root instance instead',
      p_instance, v_parent USING ERRCODE = 'PD004';
  END IF;
  RETURN QUERY
  SELECT * FROM delete_instances_atomic(ARRAY(SELECT get_instance_tree(p_instance)), p_force);
END
$$;

/*
 * delete_instance_trees: what deleteInstanceBulk does with one batch of roots: each root with its
 * whole tree (force), each in its own subtransaction so one root that cannot be deleted right now
 * (a child appeared while its tree was read) is skipped without undoing the others. One commit per
 * batch instead of per root: bulk deletion is bound by commits, not by work.
 */
CREATE FUNCTION delete_instance_trees(p_roots text[])
RETURNS TABLE (
  instances_deleted      bigint,
  executions_deleted     bigint,
  events_deleted         bigint,
  queue_messages_deleted bigint
)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_root  text;
  v_part  record;
  v_inst  bigint := 0;
  v_execs bigint := 0;
  v_evts  bigint := 0;
  v_msgs  bigint := 0;
BEGIN
  -- Sorted, so two bulk deletions over overlapping roots take instance locks in the same order.
  FOR v_root IN SELECT DISTINCT r FROM unnest(p_roots) AS r ORDER BY r LOOP
    BEGIN
      SELECT * INTO v_part FROM delete_instances_atomic(ARRAY(SELECT get_instance_tree(v_root)), true);
      v_inst := v_inst + v_part.instances_deleted;
      v_execs := v_execs + v_part.executions_deleted;
      v_evts := v_evts + v_part.events_deleted;
      v_msgs := v_msgs + v_part.queue_messages_deleted;
    EXCEPTION WHEN SQLSTATE 'PD005' THEN
      NULL; -- the tree grew while being deleted: leave this root for a later run
    END;
  END LOOP;
  RETURN QUERY SELECT v_inst, v_execs, v_evts, v_msgs;
END
$$;

/*
 * delete_candidates: the roots deleteInstanceBulk removes: root instances whose current execution
 * is terminal, optionally only listed ids and only completed before a time, oldest first.
 */
CREATE FUNCTION delete_candidates(p_ids text[], p_completed_before_ms bigint, p_limit integer)
RETURNS SETOF text
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
  SELECT i.instance_id
    FROM instances i
    JOIN executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id
   WHERE i.parent_instance_id IS NULL
     AND e.status IN ('Completed', 'Failed', 'ContinuedAsNew')
     AND (p_ids IS NULL OR i.instance_id = ANY (p_ids))
     AND (p_completed_before_ms IS NULL OR e.completed_at_ms < p_completed_before_ms)
   ORDER BY i.created_at_ms, i.instance_id
   LIMIT p_limit
$$;
