/*
 * Messages for orchestration instances. A fetch tags all visible rows of one instance with its
 * lock token; the ack deletes exactly the tagged rows.
 */
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
