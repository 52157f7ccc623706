/* Append-only event log; event_data is the event's JSON text exactly as the runtime produced it. */
CREATE TABLE history (
  instance_id   text   NOT NULL,
  execution_id  bigint NOT NULL,
  event_id      bigint NOT NULL CHECK (event_id > 0),
  event_type    text   NOT NULL,
  event_data    text   NOT NULL,
  created_at_ms bigint NOT NULL,
  PRIMARY KEY (instance_id, execution_id, event_id)
);
