-- Management reads (ProviderAdmin): listings, instance and execution info, system metrics, queue
-- depths, the instance hierarchy and per-instance stats. Contract: provider-contract.md §5.18, §6.
-- All are plain reads; none takes a lock. Unknown instances raise PD002 where the contract says
-- "not found", and return empty results where it says so.

/* list_instances: every instance with metadata, newest first. */
CREATE FUNCTION list_instances() RETURNS SETOF text
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
  SELECT instance_id FROM instances ORDER BY created_at_ms DESC, instance_id
$$;

/* list_instances_by_status: instances whose CURRENT execution has exactly this status. */
CREATE FUNCTION list_instances_by_status(p_status text) RETURNS SETOF text
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
  SELECT i.instance_id
    FROM instances i
    JOIN executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id
   WHERE e.status = p_status
   ORDER BY i.created_at_ms DESC, i.instance_id
$$;

/* list_executions: execution ids ascending; works without an instances row; none for unknown. */
CREATE FUNCTION list_executions(p_instance text) RETURNS SETOF bigint
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
  SELECT execution_id FROM executions WHERE instance_id = p_instance ORDER BY execution_id
$$;

/* latest_execution_id: the instance's current execution; PD002 when the instance is unknown. */
CREATE FUNCTION latest_execution_id(p_instance text) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT AS $$
DECLARE
  v_id bigint;
BEGIN
  SELECT current_execution_id INTO v_id FROM instances WHERE instance_id = p_instance;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'Instance % not found', p_instance USING ERRCODE = 'PD002';
  END IF;
  RETURN v_id;
END
$$;

/* get_instance_info: the instance row with its current execution; PD002 when unknown. */
CREATE FUNCTION get_instance_info(p_instance text)
RETURNS TABLE (
  instance_id           text,
  orchestration_name    text,
  orchestration_version text,
  current_execution_id  bigint,
  status                text,
  output                text,
  created_at_ms         bigint,
  updated_at_ms         bigint,
  parent_instance_id    text
)
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT i.instance_id, i.orchestration_name, COALESCE(i.orchestration_version, 'unknown'),
         i.current_execution_id, COALESCE(e.status, 'Running'), e.output,
         i.created_at_ms, i.updated_at_ms, i.parent_instance_id
    FROM instances i
    LEFT JOIN executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id
   WHERE i.instance_id = p_instance;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'Instance % not found', p_instance USING ERRCODE = 'PD002';
  END IF;
END
$$;

/* get_execution_info: one execution with its event count; works without an instances row. */
CREATE FUNCTION get_execution_info(p_instance text, p_execution_id bigint)
RETURNS TABLE (
  execution_id    bigint,
  status          text,
  output          text,
  started_at_ms   bigint,
  completed_at_ms bigint,
  event_count     bigint
)
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT e.execution_id, e.status, e.output, e.started_at_ms, e.completed_at_ms,
         (SELECT count(*) FROM history h WHERE h.instance_id = e.instance_id AND h.execution_id = e.execution_id)
    FROM executions e
   WHERE e.instance_id = p_instance AND e.execution_id = p_execution_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'Execution % of instance % not found', p_execution_id, p_instance USING ERRCODE = 'PD002';
  END IF;
END
$$;

/* get_system_metrics: store-wide counts; running/completed/failed by CURRENT execution status. */
CREATE FUNCTION get_system_metrics()
RETURNS TABLE (
  total_instances     bigint,
  total_executions    bigint,
  running_instances   bigint,
  completed_instances bigint,
  failed_instances    bigint,
  total_events        bigint
)
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
  SELECT (SELECT count(*) FROM instances),
         (SELECT count(*) FROM executions),
         count(*) FILTER (WHERE e.status = 'Running'),
         count(*) FILTER (WHERE e.status = 'Completed'),
         count(*) FILTER (WHERE e.status = 'Failed'),
         (SELECT count(*) FROM history)
    FROM instances i
    LEFT JOIN executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id
$$;

/*
 * get_queue_depths: messages available now: visible, not held by an unexpired token, and (for
 * orchestrator messages) not behind an unexpired instance lock.
 */
CREATE FUNCTION get_queue_depths(p_now_ms bigint)
RETURNS TABLE (orchestrator_queue bigint, worker_queue bigint)
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
  SELECT (SELECT count(*)
            FROM orchestrator_queue q
           WHERE q.visible_at_ms <= p_now_ms
             AND (q.lock_token IS NULL OR q.locked_until <= p_now_ms)
             AND NOT EXISTS (SELECT 1 FROM instance_locks l
                              WHERE l.instance_id = q.instance_id AND l.locked_until > p_now_ms)),
         (SELECT count(*)
            FROM worker_queue w
           WHERE w.visible_at_ms <= p_now_ms
             AND (w.lock_token IS NULL OR w.locked_until <= p_now_ms))
$$;

/* list_children: direct sub-orchestrations, oldest first; none for leaves and unknown ids. */
CREATE FUNCTION list_children(p_instance text) RETURNS SETOF text
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
  SELECT instance_id FROM instances WHERE parent_instance_id = p_instance ORDER BY created_at_ms, instance_id
$$;

/* get_parent_id: the parent (NULL for a root); PD002 when unknown. */
CREATE FUNCTION get_parent_id(p_instance text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT AS $$
DECLARE
  v_parent text;
BEGIN
  SELECT parent_instance_id INTO v_parent FROM instances WHERE instance_id = p_instance;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'Instance % not found', p_instance USING ERRCODE = 'PD002';
  END IF;
  RETURN v_parent;
END
$$;

/* get_instance_tree: the instance and every descendant, root first (unknown/leaf: just itself). */
CREATE FUNCTION get_instance_tree(p_instance text) RETURNS SETOF text
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
  WITH RECURSIVE tree(instance_id, depth) AS (
    SELECT p_instance, 0
    UNION
    SELECT i.instance_id, t.depth + 1 FROM instances i JOIN tree t ON i.parent_instance_id = t.instance_id
  )
  SELECT instance_id FROM tree ORDER BY depth, instance_id
$$;

/* carried_forward_count: length of carry_forward_events in a stored OrchestrationStarted; 0 when
 * absent or when the row is not valid JSON (a corrupt row must not make stats fail). */
CREATE FUNCTION carried_forward_count(p_event_data text) RETURNS integer
LANGUAGE plpgsql IMMUTABLE SET search_path FROM CURRENT AS $$
BEGIN
  RETURN COALESCE(jsonb_array_length(p_event_data::jsonb -> 'carry_forward_events'), 0);
EXCEPTION WHEN others THEN
  RETURN 0;
END
$$;

/*
 * get_instance_stats: size of the current execution (events, bytes, carried-forward queue) and
 * the live KV state (store overlaid with the current delta). No row for an unknown instance.
 */
CREATE FUNCTION get_instance_stats(p_instance text)
RETURNS TABLE (
  history_event_count  bigint,
  history_size_bytes   bigint,
  queue_pending_count  bigint,
  kv_user_key_count    bigint,
  kv_total_value_bytes bigint
)
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
  SELECT (SELECT count(*) FROM history h WHERE h.instance_id = i.instance_id AND h.execution_id = i.current_execution_id),
         (SELECT COALESCE(sum(octet_length(h.event_data)), 0) FROM history h
           WHERE h.instance_id = i.instance_id AND h.execution_id = i.current_execution_id),
         (SELECT COALESCE(max(carried_forward_count(h.event_data)), 0) FROM history h
           WHERE h.instance_id = i.instance_id AND h.execution_id = i.current_execution_id AND h.event_id = 1),
         (SELECT count(*) FROM (
            SELECT s.key FROM kv_store s
             WHERE s.instance_id = i.instance_id
               AND NOT EXISTS (SELECT 1 FROM kv_delta d WHERE d.instance_id = s.instance_id AND d.key = s.key AND d.value IS NULL)
            UNION
            SELECT d.key FROM kv_delta d WHERE d.instance_id = i.instance_id AND d.value IS NOT NULL) k),
         (SELECT COALESCE(sum(octet_length(v.value)), 0) FROM (
            SELECT COALESCE(d.value, s.value) AS value
              FROM kv_store s
              LEFT JOIN kv_delta d ON d.instance_id = s.instance_id AND d.key = s.key
             WHERE s.instance_id = i.instance_id AND (d.key IS NULL OR d.value IS NOT NULL)
            UNION ALL
            SELECT d.value FROM kv_delta d
             WHERE d.instance_id = i.instance_id AND d.value IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM kv_store s WHERE s.instance_id = d.instance_id AND s.key = d.key)) v)
    FROM instances i
   WHERE i.instance_id = p_instance
$$;
