/*
 * wakeup_channel: the LISTEN/NOTIFY channel of a queue of this schema ('orch' or 'work'):
 * 'pgd_' || left(md5(schema), 16) || '_' || queue. Hashing keeps any schema name (quotes, unicode,
 * 63 bytes) inside the 63-byte channel limit.
 */
CREATE OR REPLACE FUNCTION wakeup_channel(p_queue text) RETURNS text
LANGUAGE sql IMMUTABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT 'pgd_' || left(md5(current_schema()), 16) || '_' || p_queue
$$;
