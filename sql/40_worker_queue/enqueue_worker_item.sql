/*
 * enqueue_worker_item: a new item, visible now, unlocked, attempt 0. The identity columns come
 * from the ActivityExecute (NULL for other variants): they drive cancellation, deletion by
 * instance, session routing and tag routing.
 */
CREATE OR REPLACE FUNCTION enqueue_worker_item(
  p_kind         text,
  p_work_item    text,
  p_instance     text,
  p_execution_id bigint,
  p_activity_id  bigint,
  p_session_id   text,
  p_tag          text,
  p_now_ms       bigint
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO worker_queue (kind, work_item, visible_at_ms, instance_id, execution_id, activity_id,
                            session_id, tag, created_at_ms)
  VALUES (p_kind, p_work_item, p_now_ms, p_instance, p_execution_id, p_activity_id,
          p_session_id, p_tag, p_now_ms);
END
$$;
