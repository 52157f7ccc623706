/* At most one dispatcher holds an instance: acquired by insert, or by update only when expired. */
CREATE TABLE instance_locks (
  instance_id  text   PRIMARY KEY,
  lock_token   text   NOT NULL UNIQUE,
  locked_until bigint NOT NULL,
  locked_at    bigint NOT NULL
);
