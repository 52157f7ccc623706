/* get_kv_all_values: every live key: kv_store overlaid with kv_delta, minus tombstones. */
CREATE OR REPLACE FUNCTION get_kv_all_values(p_instance text)
RETURNS TABLE (key text, value text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT s.key, s.value
    FROM kv_store s
   WHERE s.instance_id = p_instance
     AND NOT EXISTS (SELECT 1 FROM kv_delta d WHERE d.instance_id = p_instance AND d.key = s.key)
  UNION ALL
  SELECT d.key, d.value
    FROM kv_delta d
   WHERE d.instance_id = p_instance AND d.value IS NOT NULL
$$;
