/*
 * get_instance_stats: size of the current execution (events, bytes, carried-forward queue) and
 * the live KV state (store overlaid with the current delta). No row for an unknown instance.
 */
CREATE OR REPLACE FUNCTION get_instance_stats(p_instance text)
RETURNS TABLE (
  history_event_count  bigint,
  history_size_bytes   bigint,
  queue_pending_count  bigint,
  kv_user_key_count    bigint,
  kv_total_value_bytes bigint
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
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
