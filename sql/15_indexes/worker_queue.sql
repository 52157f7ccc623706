CREATE INDEX worker_queue_visible_idx ON worker_queue (visible_at_ms, id);
CREATE UNIQUE INDEX worker_queue_token_idx ON worker_queue (lock_token) WHERE lock_token IS NOT NULL;
CREATE INDEX worker_queue_activity_idx ON worker_queue (instance_id, execution_id, activity_id);
CREATE INDEX worker_queue_session_idx ON worker_queue (session_id) WHERE session_id IS NOT NULL;
CREATE INDEX worker_queue_tag_idx ON worker_queue (tag, id) WHERE tag IS NOT NULL;
