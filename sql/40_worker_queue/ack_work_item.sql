/*
 * ack_work_item: complete a work item: delete it and, when p_completion is given, enqueue the
 * completion (p_completion_kind) on p_instance's orchestrator queue, visible now, in the same
 * transaction. PD001 when the token holds no unexpired lock (the item was acked, cancelled,
 * deleted, or its lock expired and it may run elsewhere): nothing is written, so a second ack of
 * the same token fails instead of completing twice. Acking a session's item refreshes the
 * session's activity (touch_session).
 */
CREATE OR REPLACE FUNCTION ack_work_item(
  p_lock_token      text,
  p_completion_kind text,
  p_completion      text,
  p_instance        text,
  p_now_ms          bigint
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  v_session text;
BEGIN
  DELETE FROM worker_queue WHERE lock_token = p_lock_token AND locked_until > p_now_ms
  RETURNING session_id INTO v_session;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'Invalid lock token or already processed: the work item is gone or its lock expired'
      USING ERRCODE = 'PD001';
  END IF;
  IF p_completion IS NOT NULL THEN
    INSERT INTO orchestrator_queue (instance_id, kind, work_item, visible_at_ms, created_at_ms)
    VALUES (p_instance, p_completion_kind, p_completion, p_now_ms, p_now_ms);
  END IF;
  IF v_session IS NOT NULL THEN
    PERFORM touch_session(v_session, p_now_ms);
  END IF;
END
$$;
