CREATE INDEX orchestrator_queue_visible_idx ON orchestrator_queue (visible_at_ms, id);
CREATE INDEX orchestrator_queue_instance_idx ON orchestrator_queue (instance_id, id);
CREATE INDEX orchestrator_queue_token_idx ON orchestrator_queue (lock_token) WHERE lock_token IS NOT NULL;
