/* get_system_metrics: store-wide counts; running/completed/failed by CURRENT execution status. */
CREATE OR REPLACE FUNCTION get_system_metrics()
RETURNS TABLE (
  total_instances     bigint,
  total_executions    bigint,
  running_instances   bigint,
  completed_instances bigint,
  failed_instances    bigint,
  total_events        bigint
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT (SELECT count(*) FROM instances),
         (SELECT count(*) FROM executions),
         count(*) FILTER (WHERE e.status = 'Running'),
         count(*) FILTER (WHERE e.status = 'Completed'),
         count(*) FILTER (WHERE e.status = 'Failed'),
         (SELECT count(*) FROM history)
    FROM instances i
    LEFT JOIN executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id
$$;
