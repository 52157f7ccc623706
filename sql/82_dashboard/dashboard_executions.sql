/*
 * dashboard_executions: the newest p_limit executions of an instance, oldest first, each with its
 * number of history events (counted on the history's primary key).
 */
CREATE OR REPLACE FUNCTION dashboard_executions(p_instance text, p_limit integer)
RETURNS TABLE (
  execution_id    bigint,
  status          text,
  started_at_ms   bigint,
  completed_at_ms bigint,
  event_count     bigint
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT x.execution_id, x.status, x.started_at_ms, x.completed_at_ms,
         (SELECT count(*) FROM history h WHERE h.instance_id = p_instance AND h.execution_id = x.execution_id)
    FROM (SELECT e.execution_id, e.status, e.started_at_ms, e.completed_at_ms
            FROM executions e
           WHERE e.instance_id = p_instance
           ORDER BY e.execution_id DESC
           LIMIT p_limit) x
   ORDER BY x.execution_id
$$;
