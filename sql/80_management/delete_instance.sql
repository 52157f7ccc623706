/*
 * delete_instance: delete a root instance with its whole tree, in one transaction.
 * PD002 when unknown; PD004 when it is a sub-orchestration (even with p_force: delete the root).
 */
CREATE OR REPLACE FUNCTION delete_instance(p_instance text, p_force boolean)
RETURNS TABLE (
  instances_deleted      bigint,
  executions_deleted     bigint,
  events_deleted         bigint,
  queue_messages_deleted bigint
)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
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
