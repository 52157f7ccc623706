/*
 * append_history: store events under (instance, execution) as given (a test / fault-injection
 * helper; creates no instance or execution rows). event_id 0 → PD006. An event id that already
 * exists is rejected (PD006) and nothing is written: history is append-only, never overwritten.
 */
CREATE OR REPLACE FUNCTION append_history(
  p_instance     text,
  p_execution_id bigint,
  p_event_ids    bigint[],
  p_event_types  text[],
  p_event_data   text[],
  p_now_ms       bigint
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  PERFORM append_history_rows(p_instance, p_execution_id, p_event_ids, p_event_types, p_event_data, p_now_ms);
EXCEPTION WHEN unique_violation THEN
  RAISE EXCEPTION 'duplicate event_id for instance % execution %: history is append-only',
    p_instance, p_execution_id USING ERRCODE = 'PD006';
END
$$;
