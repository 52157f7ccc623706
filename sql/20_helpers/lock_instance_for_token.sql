/*
 * lock_instance_for_token: the instance whose lock p_lock_token holds, with that instance's
 * advisory lock taken (waiting for it) and the lock row re-read and row-locked under it.
 * PD001 "Invalid lock token" when no lock row carries the token (never issued, released by ack or
 * abandon, or taken over after expiry) or, with p_require_unexpired, when it has expired.
 */
CREATE OR REPLACE FUNCTION lock_instance_for_token(
  p_lock_token         text,
  p_now_ms             bigint,
  p_require_unexpired  boolean
) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  v_instance text;
  v_until    bigint;
BEGIN
  SELECT l.instance_id INTO v_instance FROM instance_locks l WHERE l.lock_token = p_lock_token;
  IF FOUND THEN
    PERFORM pg_advisory_xact_lock(instance_lock_key(v_instance));
    -- A new statement sees whatever the previous holder of the advisory lock committed.
    SELECT l.locked_until INTO v_until
      FROM instance_locks l
     WHERE l.instance_id = v_instance AND l.lock_token = p_lock_token
       FOR UPDATE;
    IF FOUND AND (v_until > p_now_ms OR NOT p_require_unexpired) THEN
      RETURN v_instance;
    END IF;
  END IF;
  RAISE EXCEPTION 'Invalid lock token: the lock is unknown, released, expired or held by another fetch'
    USING ERRCODE = 'PD001';
END
$$;
