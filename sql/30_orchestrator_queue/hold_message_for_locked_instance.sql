/*
 * hold_message_for_locked_instance (row trigger before insert on orchestrator_queue): a message
 * that arrives visible for an instance a live turn holds is born hidden (held_by := the lock's
 * token), so fetch peeks never walk a fan-in that arrives mid-turn and no fetch has to hide it
 * later (an update would leave an entry per row in orchestrator_queue_ready_idx until vacuum).
 *
 * Hiding needs the instance's advisory lock, as in fetch_orchestration_item: it is only
 * try-locked (an insert never waits; when the holder is acking or a fetch is at the instance,
 * the row stays unhidden and a fetch hides it later), then the lock row is re-read in a new
 * statement, so the token written is that of a lock row that cannot be deleted or re-tokened
 * before this insert commits (release_held_messages waits for the same lock). Rows visible only
 * later (timers, delays) are left alone: the peek does not reach them before they are due, and a
 * turn's own timers are not hidden only to be released by its ack. An inserter cannot hide a row
 * itself: held_by is always computed here.
 */
CREATE OR REPLACE FUNCTION hold_message_for_locked_instance() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  NEW.held_by := NULL;
  IF NEW.lock_token IS NULL
     AND NEW.visible_at_ms <= NEW.created_at_ms
     AND EXISTS (SELECT 1 FROM instance_locks l
                  WHERE l.instance_id = NEW.instance_id AND l.locked_until > NEW.created_at_ms)
     AND pg_try_advisory_xact_lock(instance_lock_key(NEW.instance_id)) THEN
    SELECT l.lock_token INTO NEW.held_by FROM instance_locks l WHERE l.instance_id = NEW.instance_id;
  END IF;
  RETURN NEW;
END
$$;
