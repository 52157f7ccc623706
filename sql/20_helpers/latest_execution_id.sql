/* latest_execution_id: the instance's current execution; PD002 when the instance is unknown. */
CREATE OR REPLACE FUNCTION latest_execution_id(p_instance text) RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
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
