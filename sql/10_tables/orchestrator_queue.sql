/*
 * Messages for orchestration instances. A fetch tags all visible rows of one instance with its
 * lock token; the ack deletes exactly the tagged rows.
 *
 * held_by: the token of the instance lock that hides this unleased row from fetch peeks (set at
 * insert by hold_message_for_locked_instance or later by fetch_orchestration_item, cleared when
 * that lock is released or taken over by release_held_messages), so that a fan-in arriving
 * mid-turn is never walked by a fetch.
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
  created_at_ms bigint NOT NULL,
  held_by       text                             -- NULL: not hidden (see above)
);
