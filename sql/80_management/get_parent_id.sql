/* get_parent_id: the parent (NULL for a root); PD002 when unknown. */
CREATE OR REPLACE FUNCTION get_parent_id(p_instance text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
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
