/*
 * A new orchestrator message wakes a fetcher unless its instance is locked right now: a fetch
 * could not take it, and the lock's release (or expiry, see next_wakeup_at) wakes one later.
 * Without this, every activity completion of a busy instance sent an idle dispatcher to the
 * store to find nothing.
 */
CREATE OR REPLACE FUNCTION notify_orchestrator_message() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM instance_locks l
                  WHERE l.instance_id = NEW.instance_id AND l.locked_until > NEW.created_at_ms) THEN
    PERFORM pg_notify(wakeup_channel('orch'), '');
  END IF;
  RETURN NULL;
END
$$;
