/*
 * Session leases: activity affinity. Work items carrying a session_id go to the one owner holding
 * that session's lease, so in-memory state can be reused across activities of the session. The
 * activity lock (worker_queue.locked_until) and the session lease (locked_until here) are
 * independent: either may expire while the other holds.
 */
CREATE TABLE sessions (
  session_id       text   PRIMARY KEY,
  owner_id         text   NOT NULL,
  locked_until     bigint NOT NULL,
  last_activity_at bigint NOT NULL
);
