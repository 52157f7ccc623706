/*
 * One row per execution (continue-as-new starts a new one); may exist without an instances row.
 *
 * Every execution is pinned to the engine version that started it (duroxide_version_*), and a
 * dispatcher only fetches instances whose current execution it can replay (see packed_version).
 * NULL pins (old data, executions not started yet) match every range.
 */
CREATE TABLE executions (
  instance_id            text   NOT NULL,
  execution_id           bigint NOT NULL,
  status                 text   NOT NULL DEFAULT 'Running',
  output                 text,
  started_at_ms          bigint NOT NULL,
  completed_at_ms        bigint,
  duroxide_version_major integer,
  duroxide_version_minor integer,
  duroxide_version_patch integer,
  PRIMARY KEY (instance_id, execution_id)
);
