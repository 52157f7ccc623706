/*
 * release_held_messages (row trigger on instance_locks: after delete, and after an update that
 * changes lock_token): the messages fetch_orchestration_item hid because this lock held their
 * instance (held_by = the old token) become visible to fetch peeks again.
 *
 * This keeps the invariant the fetch relies on: a row with held_by = T always has a lock row
 * (its instance, T). Hiding and this release exclude each other through the instance's advisory
 * lock: the fetch hides rows only while it holds that lock (try-locked) and after re-reading the
 * lock row under it; this trigger takes the same lock (already held, so re-entrant and free, in
 * ack, abandon, the fetch's take-over and delete_instances_atomic; waited for by any other
 * deleter, behind a fetch that never waits itself) and then updates in a new statement, which
 * sees every hide committed before. A hide cannot follow the release either: the fetch that
 * would hide re-reads the lock row after its try-lock and finds it gone or re-tokened.
 * Never raises of its own.
 */
CREATE OR REPLACE FUNCTION release_held_messages() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(instance_lock_key(OLD.instance_id));
  UPDATE orchestrator_queue q
     SET held_by = NULL
   WHERE q.instance_id = OLD.instance_id AND q.held_by = OLD.lock_token;
  RETURN NULL;
END
$$;
