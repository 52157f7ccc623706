/* The current execution's KV writes (see kv_store); value NULL is a tombstone. */
CREATE TABLE kv_delta (
  instance_id        text   NOT NULL,
  key                text   NOT NULL,
  value              text,                     -- NULL: cleared in the current execution
  last_updated_at_ms bigint NOT NULL,
  PRIMARY KEY (instance_id, key)
);
