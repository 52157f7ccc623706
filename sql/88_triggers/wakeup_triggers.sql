/*
 * Wake-ups for long polling: a provider keeps one LISTEN connection per schema and sleeps in fetch
 * until one of these notifications (or next_wakeup_at) says there may be work. Notifications sent
 * inside a transaction are delivered at commit.
 */
CREATE TRIGGER orchestrator_queue_wakeup AFTER INSERT ON orchestrator_queue
  FOR EACH ROW EXECUTE FUNCTION notify_orchestrator_message();
CREATE TRIGGER instance_locks_release_wakeup AFTER DELETE ON instance_locks
  FOR EACH ROW EXECUTE FUNCTION notify_orchestrator_lock_released();
CREATE TRIGGER worker_queue_wakeup AFTER INSERT ON worker_queue
  REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION notify_worker_arrivals();
