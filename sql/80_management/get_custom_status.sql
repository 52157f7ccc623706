/*
 * get_custom_status: the instance's custom status and its version, as one row only when the
 * version is newer than p_last_seen_version (a change detector for pollers). No row for unknown
 * instances or when nothing changed.
 */
CREATE OR REPLACE FUNCTION get_custom_status(p_instance text, p_last_seen_version bigint)
RETURNS TABLE (custom_status text, custom_status_version integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT i.custom_status, i.custom_status_version
    FROM instances i
   WHERE i.instance_id = p_instance AND i.custom_status_version > p_last_seen_version
$$;
