/*
 * dashboard_instance: everything the dashboard's instance page shows about one instance in one
 * row (no row when unknown): the instance and its current execution, its custom status, and the
 * current execution's OrchestrationStarted event (its input) and, when it failed, its
 * OrchestrationFailed event (the error), both as stored JSON text. Each event is found through the
 * history's primary key without reading the rest of a long history.
 */
CREATE OR REPLACE FUNCTION dashboard_instance(p_instance text)
RETURNS TABLE (
  instance_id           text,
  orchestration_name    text,
  orchestration_version text,
  current_execution_id  bigint,
  status                text,
  output                text,
  created_at_ms         bigint,
  updated_at_ms         bigint,
  parent_instance_id    text,
  custom_status         text,
  custom_status_version integer,
  started_event         text,
  failed_event          text
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT i.instance_id, i.orchestration_name, COALESCE(i.orchestration_version, 'unknown'),
         i.current_execution_id, COALESCE(e.status, 'Running'), e.output,
         i.created_at_ms, i.updated_at_ms, i.parent_instance_id, i.custom_status, i.custom_status_version,
         (SELECT h.event_data FROM history h
           WHERE h.instance_id = i.instance_id AND h.execution_id = i.current_execution_id
             AND h.event_type = 'OrchestrationStarted'
           ORDER BY h.event_id LIMIT 1),
         CASE WHEN e.status = 'Failed' THEN
           (SELECT h.event_data FROM history h
             WHERE h.instance_id = i.instance_id AND h.execution_id = i.current_execution_id
               AND h.event_type = 'OrchestrationFailed'
             ORDER BY h.event_id DESC LIMIT 1)
         END
    FROM instances i
    LEFT JOIN executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id
   WHERE i.instance_id = p_instance
$$;
