/*
 * dashboard_metrics: per bucket of p_bucket_ms from p_from_ms to p_to_ms (bucket start times
 * p_from_ms + k * p_bucket_ms), what the store did:
 *   started      instances created (their first turn committed) in the bucket,
 *   completed    executions that ended Completed in the bucket, failed: ended Failed,
 *   turns        acked turns in the bucket (history rows appended by one ack share its
 *                created_at_ms), turn_p50_ms/turn_p95_ms: the ack time minus the earliest
 *                timestamp_ms of the events that turn recorded, i.e. from the runtime stamping the
 *                turn's first new event to its commit (queue waiting before the fetch not included),
 *   activities   activity results recorded in the bucket, activity_p50_ms/activity_p95_ms: the
 *                result event's timestamp_ms minus its ActivityScheduled event's, i.e. from the turn
 *                that scheduled the activity to the turn that recorded its result (queueing,
 *                execution and retries included).
 * Latencies are NULL in a bucket without samples. Only instances updated since p_from_ms are read
 * (a seq scan of instances, then each one's history through the primary key), so the cost follows
 * the window's activity, not the size of the store.
 */
CREATE OR REPLACE FUNCTION dashboard_metrics(p_from_ms bigint, p_to_ms bigint, p_bucket_ms bigint)
RETURNS TABLE (
  bucket_start_ms bigint,
  started         bigint,
  completed       bigint,
  failed          bigint,
  turns           bigint,
  turn_p50_ms     double precision,
  turn_p95_ms     double precision,
  activities      bigint,
  activity_p50_ms double precision,
  activity_p95_ms double precision
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  WITH recent AS MATERIALIZED (
    SELECT i.instance_id, i.created_at_ms FROM instances i WHERE i.updated_at_ms >= p_from_ms
  ),
  appended AS MATERIALIZED (
    SELECT h.instance_id, h.execution_id, h.event_type, h.created_at_ms, h.event_data::jsonb AS ev
      FROM recent r
      JOIN history h ON h.instance_id = r.instance_id
     WHERE h.created_at_ms >= p_from_ms AND h.created_at_ms < p_to_ms
  ),
  starts AS (
    SELECT (r.created_at_ms - p_from_ms) / p_bucket_ms AS k, count(*) AS n
      FROM recent r
     WHERE r.created_at_ms >= p_from_ms AND r.created_at_ms < p_to_ms
     GROUP BY 1
  ),
  ends AS (
    SELECT (e.completed_at_ms - p_from_ms) / p_bucket_ms AS k,
           count(*) FILTER (WHERE e.status = 'Completed') AS completed,
           count(*) FILTER (WHERE e.status = 'Failed') AS failed
      FROM recent r
      JOIN executions e ON e.instance_id = r.instance_id
     WHERE e.completed_at_ms >= p_from_ms AND e.completed_at_ms < p_to_ms
     GROUP BY 1
  ),
  turn_times AS (
    SELECT (a.created_at_ms - p_from_ms) / p_bucket_ms AS k,
           greatest(0, a.created_at_ms - min((a.ev->>'timestamp_ms')::bigint)) AS ms
      FROM appended a
     GROUP BY a.instance_id, a.execution_id, a.created_at_ms
  ),
  turn_stats AS (
    SELECT t.k, count(*) AS n,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY t.ms) AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY t.ms) AS p95
      FROM turn_times t GROUP BY t.k
  ),
  activity_times AS (
    SELECT (a.created_at_ms - p_from_ms) / p_bucket_ms AS k,
           greatest(0, (a.ev->>'timestamp_ms')::bigint - (s.event_data::jsonb->>'timestamp_ms')::bigint) AS ms
      FROM appended a
      JOIN history s ON s.instance_id = a.instance_id AND s.execution_id = a.execution_id
                    AND s.event_id = (a.ev->>'source_event_id')::bigint
     WHERE a.event_type IN ('ActivityCompleted', 'ActivityFailed') AND s.event_type = 'ActivityScheduled'
  ),
  activity_stats AS (
    SELECT t.k, count(*) AS n,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY t.ms) AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY t.ms) AS p95
      FROM activity_times t GROUP BY t.k
  )
  SELECT p_from_ms + b.k * p_bucket_ms, COALESCE(st.n, 0), COALESCE(en.completed, 0), COALESCE(en.failed, 0),
         COALESCE(tu.n, 0), tu.p50, tu.p95, COALESCE(ac.n, 0), ac.p50, ac.p95
    FROM generate_series(0, (p_to_ms - p_from_ms - 1) / p_bucket_ms) AS b(k)
    LEFT JOIN starts st ON st.k = b.k
    LEFT JOIN ends en ON en.k = b.k
    LEFT JOIN turn_stats tu ON tu.k = b.k
    LEFT JOIN activity_stats ac ON ac.k = b.k
   ORDER BY b.k
$$;
