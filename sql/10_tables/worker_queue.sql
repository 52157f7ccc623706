/*
 * Activity executions. The identity columns copied from the ActivityExecute item drive
 * cancellation and deletion by instance (instance, execution, activity id), session affinity
 * (session_id) and tag routing (tag: NULL is the default, untagged queue).
 */
CREATE TABLE worker_queue (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind          text   NOT NULL,
  work_item     text   NOT NULL,
  visible_at_ms bigint NOT NULL,
  lock_token    text,
  locked_until  bigint,
  attempt_count integer NOT NULL DEFAULT 0,
  instance_id   text,
  execution_id  bigint,
  activity_id   bigint,
  session_id    text,
  tag           text,
  created_at_ms bigint NOT NULL
);
