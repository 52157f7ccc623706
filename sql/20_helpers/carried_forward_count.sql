/* carried_forward_count: length of carry_forward_events in a stored OrchestrationStarted; 0 when
 * absent or when the row is not valid JSON (a corrupt row must not make stats fail). */
CREATE OR REPLACE FUNCTION carried_forward_count(p_event_data text) RETURNS integer
LANGUAGE plpgsql IMMUTABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  RETURN COALESCE(jsonb_array_length(p_event_data::jsonb -> 'carry_forward_events'), 0);
EXCEPTION WHEN others THEN
  RETURN 0;
END
$$;
