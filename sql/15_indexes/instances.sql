CREATE INDEX instances_parent_idx ON instances (parent_instance_id) WHERE parent_instance_id IS NOT NULL;
CREATE INDEX instances_created_idx ON instances (created_at_ms DESC);
/*
 * The dashboard's instance list (dashboard_list_instances): keyset pages in created order, with
 * instance_id as the tie-break (scanned backwards for newest first); the same within one
 * orchestration name; and instance id prefix search (text_pattern_ops, so LIKE 'prefix%' uses it
 * whatever the database's collation). None of these columns changes after the insert, so acks'
 * updates of the instance row stay HOT.
 */
CREATE INDEX instances_created_keyset_idx ON instances (created_at_ms, instance_id);
CREATE INDEX instances_name_created_idx ON instances (orchestration_name, created_at_ms, instance_id);
CREATE INDEX instances_id_prefix_idx ON instances (instance_id text_pattern_ops);
