/*
 * merge_kv_delta: the execution ended: upsert the delta's values into kv_store (recording the
 * writing execution), delete the keys it tombstoned, and empty the instance's delta.
 */
CREATE OR REPLACE FUNCTION merge_kv_delta(p_instance text, p_execution_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO kv_store AS s (instance_id, key, value, execution_id, last_updated_at_ms)
  SELECT d.instance_id, d.key, d.value, p_execution_id, d.last_updated_at_ms
    FROM kv_delta d
   WHERE d.instance_id = p_instance AND d.value IS NOT NULL
  ON CONFLICT (instance_id, key) DO UPDATE
    SET value = EXCLUDED.value, execution_id = EXCLUDED.execution_id, last_updated_at_ms = EXCLUDED.last_updated_at_ms;
  DELETE FROM kv_store s
   USING kv_delta d
   WHERE s.instance_id = p_instance AND d.instance_id = p_instance AND d.key = s.key AND d.value IS NULL;
  DELETE FROM kv_delta WHERE instance_id = p_instance;
END
$$;
