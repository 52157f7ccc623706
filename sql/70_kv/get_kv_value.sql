/*
 * get_kv_value: the live value of one key: the current execution's write if there is one (no row
 * when it is a tombstone), else the stored value; no row when the key is unset.
 */
CREATE OR REPLACE FUNCTION get_kv_value(p_instance text, p_key text)
RETURNS TABLE (value text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
#variable_conflict use_column
DECLARE
  v_value text;
BEGIN
  SELECT d.value INTO v_value FROM kv_delta d WHERE d.instance_id = p_instance AND d.key = p_key;
  IF FOUND THEN
    IF v_value IS NOT NULL THEN
      value := v_value;
      RETURN NEXT;
    END IF;
    RETURN;
  END IF;
  RETURN QUERY SELECT s.value FROM kv_store s WHERE s.instance_id = p_instance AND s.key = p_key;
END
$$;
