/*
 * enqueue_orchestrator_item: put one message on the orchestrator queue of p_instance (the routing
 * instance the caller derived: parent_instance for sub-orchestration completions).
 * Visible at now + delay; a TimerFired with fire_at_ms > 0 not before its fire time. Never creates
 * or touches instances/executions and never waits on the instance lock: a message for a locked
 * instance simply joins the instance's next batch. ActivityExecute belongs to the worker queue.
 */
CREATE OR REPLACE FUNCTION enqueue_orchestrator_item(
  p_instance   text,
  p_kind       text,
  p_work_item  text,
  p_fire_at_ms bigint,
  p_delay_ms   bigint,
  p_now_ms     bigint
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  v_visible_at bigint := p_now_ms + GREATEST(COALESCE(p_delay_ms, 0), 0);
BEGIN
  IF p_kind = 'ActivityExecute' THEN
    RAISE EXCEPTION 'ActivityExecute belongs to the worker queue, not the orchestrator queue'
      USING ERRCODE = 'PD006';
  END IF;
  IF p_kind = 'TimerFired' AND COALESCE(p_fire_at_ms, 0) > 0 THEN
    v_visible_at := GREATEST(p_fire_at_ms, v_visible_at);
  END IF;
  INSERT INTO orchestrator_queue (instance_id, kind, work_item, visible_at_ms, created_at_ms)
  VALUES (p_instance, p_kind, p_work_item, v_visible_at, p_now_ms);
END
$$;
