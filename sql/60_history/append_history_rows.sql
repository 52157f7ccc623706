/*
 * append_history_rows: insert events under (instance, execution) exactly as given. Rejects an
 * event_id of 0 (a runtime bug) and arrays of different lengths with PD006. A duplicate key raises
 * unique_violation; callers decide what that means (ack: the whole turn fails).
 */
CREATE OR REPLACE FUNCTION append_history_rows(
  p_instance     text,
  p_execution_id bigint,
  p_event_ids    bigint[],
  p_event_types  text[],
  p_event_data   text[],
  p_now_ms       bigint
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  IF COALESCE(cardinality(p_event_ids), 0) = 0 THEN
    RETURN;
  END IF;
  IF cardinality(p_event_ids) <> COALESCE(cardinality(p_event_types), 0)
     OR cardinality(p_event_ids) <> COALESCE(cardinality(p_event_data), 0) THEN
    RAISE EXCEPTION 'history delta arrays differ in length' USING ERRCODE = 'PD006';
  END IF;
  IF EXISTS (SELECT 1 FROM unnest(p_event_ids) AS e(id) WHERE e.id IS NULL OR e.id <= 0) THEN
    RAISE EXCEPTION 'event_id must be >= 1 (got 0 for instance %): event ids are assigned by the runtime',
      p_instance USING ERRCODE = 'PD006';
  END IF;
  INSERT INTO history (instance_id, execution_id, event_id, event_type, event_data, created_at_ms)
  SELECT p_instance, p_execution_id, e.id, e.type, e.data, p_now_ms
    FROM unnest(p_event_ids, p_event_types, p_event_data) AS e(id, type, data);
END
$$;
