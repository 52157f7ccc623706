/*
 * Messages of an instance a live turn holds are hidden from fetch peeks (orchestrator_queue.held_by):
 * born hidden when they arrive mid-turn, and back when that lock goes: released (ack, abandon,
 * instance deletion) or taken over after expiry (a new token).
 */
CREATE TRIGGER orchestrator_queue_hold_for_lock BEFORE INSERT ON orchestrator_queue
  FOR EACH ROW EXECUTE FUNCTION hold_message_for_locked_instance();
CREATE TRIGGER instance_locks_release_held AFTER DELETE ON instance_locks
  FOR EACH ROW EXECUTE FUNCTION release_held_messages();
CREATE TRIGGER instance_locks_takeover_release_held AFTER UPDATE OF lock_token ON instance_locks
  FOR EACH ROW WHEN (OLD.lock_token IS DISTINCT FROM NEW.lock_token)
  EXECUTE FUNCTION release_held_messages();
