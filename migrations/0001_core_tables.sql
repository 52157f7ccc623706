-- Core tables of the store. The migration runner sets search_path to the target schema, so names
-- here are unqualified and land in that schema. Every time is epoch milliseconds (bigint) taken
-- from the caller's clock; the database clock is never used for queue logic.

-- One row per orchestration instance that has received metadata (created by ack, never by enqueue).
CREATE TABLE instances (
  instance_id           text PRIMARY KEY,
  orchestration_name    text NOT NULL,
  orchestration_version text,                      -- NULL reads as "unknown"
  current_execution_id  bigint NOT NULL DEFAULT 1,
  parent_instance_id    text,                      -- immutable once set; drives cascade delete
  created_at_ms         bigint NOT NULL,
  updated_at_ms         bigint NOT NULL
);
CREATE INDEX instances_parent_idx ON instances (parent_instance_id) WHERE parent_instance_id IS NOT NULL;
CREATE INDEX instances_created_idx ON instances (created_at_ms DESC);

-- One row per execution (continue-as-new starts a new one); may exist without an instances row.
CREATE TABLE executions (
  instance_id     text   NOT NULL,
  execution_id    bigint NOT NULL,
  status          text   NOT NULL DEFAULT 'Running',
  output          text,
  started_at_ms   bigint NOT NULL,
  completed_at_ms bigint,
  PRIMARY KEY (instance_id, execution_id)
);

-- Append-only event log; event_data is the event's JSON text exactly as the runtime produced it.
CREATE TABLE history (
  instance_id   text   NOT NULL,
  execution_id  bigint NOT NULL,
  event_id      bigint NOT NULL CHECK (event_id > 0),
  event_type    text   NOT NULL,
  event_data    text   NOT NULL,
  created_at_ms bigint NOT NULL,
  PRIMARY KEY (instance_id, execution_id, event_id)
);

-- Messages for orchestration instances. A fetch tags all visible rows of one instance with its
-- lock token; the ack deletes exactly the tagged rows.
CREATE TABLE orchestrator_queue (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  instance_id   text   NOT NULL,
  kind          text   NOT NULL,                   -- the work item's variant name
  work_item     text   NOT NULL,
  visible_at_ms bigint NOT NULL,
  lock_token    text,
  locked_until  bigint,
  attempt_count integer NOT NULL DEFAULT 0,
  created_at_ms bigint NOT NULL
);
CREATE INDEX orchestrator_queue_visible_idx ON orchestrator_queue (visible_at_ms, id);
CREATE INDEX orchestrator_queue_instance_idx ON orchestrator_queue (instance_id, id);
CREATE INDEX orchestrator_queue_token_idx ON orchestrator_queue (lock_token) WHERE lock_token IS NOT NULL;

-- Activity executions. The identity columns copied from the ActivityExecute item drive
-- cancellation and deletion by instance (instance, execution, activity id), session affinity
-- (session_id) and tag routing (tag).
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
CREATE INDEX worker_queue_visible_idx ON worker_queue (visible_at_ms, id);
CREATE UNIQUE INDEX worker_queue_token_idx ON worker_queue (lock_token) WHERE lock_token IS NOT NULL;
CREATE INDEX worker_queue_activity_idx ON worker_queue (instance_id, execution_id, activity_id);

-- At most one dispatcher holds an instance: acquired by insert, or by update only when expired.
CREATE TABLE instance_locks (
  instance_id  text   PRIMARY KEY,
  lock_token   text   NOT NULL UNIQUE,
  locked_until bigint NOT NULL,
  locked_at    bigint NOT NULL
);
