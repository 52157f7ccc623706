-- Wake-ups for long polling. Instead of every dispatcher polling an idle store, a provider keeps
-- one LISTEN connection per schema and sleeps in fetch until one of these notifications (or the
-- next delayed row coming due) says there may be work.
--
-- Channels: 'pgd_' || left(md5(schema), 16) || '_orch' | '_work'. Hashing keeps any schema
-- name (quotes, unicode, 63 bytes) inside the 63-byte channel limit. Notifications sent inside a
-- transaction are delivered at commit and de-duplicated, so a batch insert costs one.

-- The channel of a queue of this schema ('orch' or 'work').
CREATE OR REPLACE FUNCTION wakeup_channel(p_queue text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path FROM CURRENT AS $$
  SELECT 'pgd_' || left(md5(current_schema()), 16) || '_' || p_queue
$$;

-- A released instance lock wakes a fetcher when messages wait for that instance: they arrived
-- while it was locked (the batch of the turn itself is deleted before the lock) or were handed
-- back by an abandon. A release with nothing waiting wakes nobody.
CREATE OR REPLACE FUNCTION notify_orchestrator_lock_released() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM orchestrator_queue q WHERE q.instance_id = OLD.instance_id) THEN
    PERFORM pg_notify(wakeup_channel('orch'), '');
  END IF;
  RETURN NULL;
END
$$;

-- A new orchestrator message wakes a fetcher unless its instance is locked right now: a fetch
-- could not take it, and the lock's release (or expiry, see next_wakeup_at) wakes one later.
-- Without this, every activity completion of a busy instance sent an idle dispatcher to the
-- store to find nothing.
CREATE OR REPLACE FUNCTION notify_orchestrator_message() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM instance_locks l
                  WHERE l.instance_id = NEW.instance_id AND l.locked_until > NEW.created_at_ms) THEN
    PERFORM pg_notify(wakeup_channel('orch'), '');
  END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION notify_worker_work() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  PERFORM pg_notify(wakeup_channel('work'), '');
  RETURN NULL;
END
$$;

CREATE TRIGGER orchestrator_queue_wakeup AFTER INSERT ON orchestrator_queue
  FOR EACH ROW EXECUTE FUNCTION notify_orchestrator_message();
CREATE TRIGGER instance_locks_release_wakeup AFTER DELETE ON instance_locks
  FOR EACH ROW EXECUTE FUNCTION notify_orchestrator_lock_released();
CREATE TRIGGER worker_queue_wakeup AFTER INSERT ON worker_queue
  FOR EACH STATEMENT EXECUTE FUNCTION notify_worker_work();

-- The next moment work may appear in a queue without anyone enqueuing it: the earliest delayed
-- message coming due (start delay, timer, abandon backoff) or the earliest lock expiring (a
-- crashed holder). An idle long poll sleeps until then at the latest. NULL: nothing pending.
CREATE OR REPLACE FUNCTION next_wakeup_at(p_queue text, p_now_ms bigint) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT AS $$
BEGIN
  IF p_queue = 'orch' THEN
    RETURN LEAST(
      (SELECT min(visible_at_ms) FROM orchestrator_queue WHERE visible_at_ms > p_now_ms),
      (SELECT min(locked_until) FROM instance_locks WHERE locked_until > p_now_ms));
  END IF;
  RETURN LEAST(
    (SELECT min(visible_at_ms) FROM worker_queue WHERE visible_at_ms > p_now_ms),
    (SELECT min(locked_until) FROM worker_queue WHERE lock_token IS NOT NULL AND locked_until > p_now_ms));
END
$$;
