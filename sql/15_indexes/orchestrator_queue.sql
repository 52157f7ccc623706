CREATE INDEX orchestrator_queue_visible_idx ON orchestrator_queue (visible_at_ms, id);
CREATE INDEX orchestrator_queue_instance_idx ON orchestrator_queue (instance_id, id);
CREATE INDEX orchestrator_queue_token_idx ON orchestrator_queue (lock_token) WHERE lock_token IS NOT NULL;

/*
 * Peek indexes of fetch_orchestration_item, over rows a fetch may take, so that the messages of a
 * locked instance (a fan-in arriving mid-turn, hidden by held_by) and the batch of a live turn
 * (leased) are never walked. Ready rows are unleased and not hidden, in the peek's order; leased
 * rows are found by lease end once it has passed; an instance's not-yet-hidden rows are found by
 * instance, so hiding the newcomers of a big fan-in reads only them.
 */
CREATE INDEX orchestrator_queue_ready_idx ON orchestrator_queue (visible_at_ms, id)
  WHERE lock_token IS NULL AND held_by IS NULL;
CREATE INDEX orchestrator_queue_lease_end_idx ON orchestrator_queue (locked_until)
  WHERE lock_token IS NOT NULL;
CREATE INDEX orchestrator_queue_unheld_instance_idx ON orchestrator_queue (instance_id, id)
  WHERE lock_token IS NULL AND held_by IS NULL;
