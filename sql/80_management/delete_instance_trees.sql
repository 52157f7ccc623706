/*
 * delete_instance_trees: what deleteInstanceBulk does with one batch of roots: each root with its
 * whole tree (force), each in its own subtransaction so one root that cannot be deleted right now
 * (a child appeared while its tree was read) is skipped without undoing the others. One commit per
 * batch instead of per root: bulk deletion is bound by commits, not by work.
 */
CREATE OR REPLACE FUNCTION delete_instance_trees(p_roots text[])
RETURNS TABLE (
  instances_deleted      bigint,
  executions_deleted     bigint,
  events_deleted         bigint,
  queue_messages_deleted bigint
)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
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
