/*
 * One row per orchestration instance that has received metadata (created by an ack, never by an
 * enqueue). Every time in the store is epoch milliseconds (bigint) taken from the caller's clock;
 * the database clock is never used for queue logic.
 *
 * custom_status is a user-visible progress string, changed only by acks whose history delta
 * contains CustomStatusUpdated; custom_status_version is what pollers compare against. Both are
 * instance-scoped, so they survive continue-as-new.
 */
CREATE TABLE instances (
  instance_id           text PRIMARY KEY,
  orchestration_name    text NOT NULL,
  orchestration_version text,                      -- NULL reads as "unknown"
  current_execution_id  bigint NOT NULL DEFAULT 1,
  parent_instance_id    text,                      -- immutable once set; drives cascade delete
  created_at_ms         bigint NOT NULL,
  updated_at_ms         bigint NOT NULL,
  custom_status         text,
  custom_status_version integer NOT NULL DEFAULT 0
);
