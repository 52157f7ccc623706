/*
 * Instance-scoped key/value state. kv_store holds what finished executions (Completed, Failed,
 * ContinuedAsNew) wrote; kv_delta holds the current execution's writes until the execution ends and
 * the delta is folded into the store (merge_kv_delta). The fetch snapshot is kv_store only: replay
 * re-applies the current execution's KeyValueSet events itself, and seeing them twice would poison
 * read-modify-write code. Client reads see kv_store overlaid with kv_delta. Pruning executions
 * never touches either table; deleting the instance deletes both tables' rows.
 */
CREATE TABLE kv_store (
  instance_id        text   NOT NULL,
  key                text   NOT NULL,
  value              text   NOT NULL,
  execution_id       bigint NOT NULL,          -- the execution that last wrote the key
  last_updated_at_ms bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (instance_id, key)
);
