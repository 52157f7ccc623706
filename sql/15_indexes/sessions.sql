CREATE INDEX sessions_owner_idx ON sessions (owner_id);
