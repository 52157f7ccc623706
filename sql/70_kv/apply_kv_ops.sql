/*
 * apply_kv_ops: apply one turn's KV mutations, in order, to the instance's kv_delta:
 *   'set'       upsert (key, value, the event's last_updated_at_ms)
 *   'clear_key' upsert a tombstone (key, NULL, now)
 *   'clear_all' tombstone every delta row and every kv_store key (now)
 * Anything else → PD006.
 */
CREATE OR REPLACE FUNCTION apply_kv_ops(
  p_instance         text,
  p_ops              text[],
  p_keys             text[],
  p_values           text[],
  p_updated_at_ms    bigint[],
  p_now_ms           bigint
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  v_op record;
BEGIN
  FOR v_op IN
    SELECT o.op, o.key, o.value, o.updated_at_ms
      FROM unnest(p_ops, p_keys, p_values, p_updated_at_ms) WITH ORDINALITY AS o(op, key, value, updated_at_ms, n)
     ORDER BY o.n
  LOOP
    CASE v_op.op
      WHEN 'set' THEN
        INSERT INTO kv_delta AS d (instance_id, key, value, last_updated_at_ms)
        VALUES (p_instance, v_op.key, v_op.value, COALESCE(v_op.updated_at_ms, 0))
        ON CONFLICT (instance_id, key) DO UPDATE
          SET value = EXCLUDED.value, last_updated_at_ms = EXCLUDED.last_updated_at_ms;
      WHEN 'clear_key' THEN
        INSERT INTO kv_delta AS d (instance_id, key, value, last_updated_at_ms)
        VALUES (p_instance, v_op.key, NULL, p_now_ms)
        ON CONFLICT (instance_id, key) DO UPDATE SET value = NULL, last_updated_at_ms = p_now_ms;
      WHEN 'clear_all' THEN
        UPDATE kv_delta SET value = NULL, last_updated_at_ms = p_now_ms WHERE instance_id = p_instance;
        INSERT INTO kv_delta (instance_id, key, value, last_updated_at_ms)
        SELECT s.instance_id, s.key, NULL, p_now_ms FROM kv_store s WHERE s.instance_id = p_instance
        ON CONFLICT (instance_id, key) DO NOTHING;
      ELSE
        RAISE EXCEPTION 'unknown KV operation %', v_op.op USING ERRCODE = 'PD006';
    END CASE;
  END LOOP;
END
$$;
