CREATE INDEX instances_parent_idx ON instances (parent_instance_id) WHERE parent_instance_id IS NOT NULL;
CREATE INDEX instances_created_idx ON instances (created_at_ms DESC);
