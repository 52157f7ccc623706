CREATE INDEX worker_queue_visible_idx ON worker_queue (visible_at_ms, id);
CREATE UNIQUE INDEX worker_queue_token_idx ON worker_queue (lock_token) WHERE lock_token IS NOT NULL;
CREATE INDEX worker_queue_activity_idx ON worker_queue (instance_id, execution_id, activity_id);
CREATE INDEX worker_queue_session_idx ON worker_queue (session_id) WHERE session_id IS NOT NULL;
CREATE INDEX worker_queue_tag_idx ON worker_queue (tag, id) WHERE tag IS NOT NULL;

/*
 * Fetch-side indexes over rows a fetch can take, so that rows it cannot take (retries hidden by a
 * delay, leased rows, items of other tags or of sessions held by other owners) are never walked.
 * A row is "fresh" while it is unleased and visible since its enqueue (visible_at_ms <=
 * created_at_ms: enqueue and ack insert rows visible at their creation time); fresh rows are served
 * in id order straight from these indexes. Everything else an unleased row can be is "deferred"
 * (abandoned: visible_at_ms moved past created_at_ms) and found by visible time; leased rows are
 * found by lease end once it has passed. fetch_work_item's comment argues why the three sets cover
 * every takeable row.
 */
CREATE INDEX worker_queue_fresh_default_idx ON worker_queue (id)
  WHERE lock_token IS NULL AND visible_at_ms <= created_at_ms AND session_id IS NULL AND tag IS NULL;
CREATE INDEX worker_queue_fresh_tagged_idx ON worker_queue (tag, id)
  WHERE lock_token IS NULL AND visible_at_ms <= created_at_ms AND session_id IS NULL AND tag IS NOT NULL;
CREATE INDEX worker_queue_fresh_session_idx ON worker_queue (session_id, id)
  WHERE lock_token IS NULL AND visible_at_ms <= created_at_ms AND session_id IS NOT NULL;
CREATE INDEX worker_queue_deferred_idx ON worker_queue (visible_at_ms)
  WHERE lock_token IS NULL AND visible_at_ms > created_at_ms;
CREATE INDEX worker_queue_lease_end_idx ON worker_queue (locked_until) WHERE lock_token IS NOT NULL;
