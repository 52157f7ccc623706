-- The dashboard's reads (docs/dashboard.md): read-only, STABLE functions the dashboard calls as any
-- role that may run the store (a least-privilege runtime role included, after granting again:
-- `npm run migrate -- --schema S --grant-runtime-role ROLE`), and the indexes its instance list
-- pages with (keyset on (created_at_ms, instance_id), by orchestration name, by id prefix).
--
-- The indexes are built in the migration's transaction (not CONCURRENTLY): on a large store,
-- writes to instances wait while they build.

CREATE INDEX instances_created_keyset_idx ON instances (created_at_ms, instance_id);
CREATE INDEX instances_name_created_idx ON instances (orchestration_name, created_at_ms, instance_id);
CREATE INDEX instances_id_prefix_idx ON instances (instance_id text_pattern_ops);

/*
 * dashboard_instance_filter: the WHERE clause of the dashboard's instance list and count, built
 * from which filters are set (NULL: not filtering). It returns SQL text that names the filter
 * values only as parameters $1..$6 (status, orchestration name, created from, created to, id LIKE
 * pattern, id substring), never the values themselves, so the callers EXECUTE it with USING.
 * The instance's status is its current execution's (COALESCE'd to Running like get_instance_info).
 * Pure, but a definer with a pinned search_path like every store function but packed_version
 * (sql/90_grants/least_privilege.sql).
 */
CREATE FUNCTION dashboard_instance_filter(
  p_status          text,
  p_name            text,
  p_created_from_ms bigint,
  p_created_to_ms   bigint,
  p_id_pattern      text,
  p_id_contains     text
) RETURNS text
LANGUAGE sql IMMUTABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT array_to_string(ARRAY['true']
    || CASE WHEN p_status IS NULL THEN '{}'::text[] ELSE ARRAY['COALESCE(e.status, ''Running'') = $1'] END
    || CASE WHEN p_name IS NULL THEN '{}'::text[] ELSE ARRAY['i.orchestration_name = $2'] END
    || CASE WHEN p_created_from_ms IS NULL THEN '{}'::text[] ELSE ARRAY['i.created_at_ms >= $3'] END
    || CASE WHEN p_created_to_ms IS NULL THEN '{}'::text[] ELSE ARRAY['i.created_at_ms < $4'] END
    || CASE WHEN p_id_pattern IS NULL THEN '{}'::text[] ELSE ARRAY['i.instance_id LIKE $5'] END
    || CASE WHEN p_id_contains IS NULL THEN '{}'::text[] ELSE ARRAY['strpos(i.instance_id, $6) > 0'] END,
    ' AND ')
$$;

/*
 * dashboard_list_instances: one page of instances for the dashboard, filtered (see
 * dashboard_instance_filter) and sorted by created_desc, created_asc or updated_desc, ties broken by
 * instance_id. Keyset paging: the next page starts after the last row's (sort time, instance_id),
 * passed as p_after_ms/p_after_id, so a page costs the same however deep it is.
 *
 * The query is EXECUTEd, so it is planned for each call's filter values: a prefix search uses
 * instances_id_prefix_idx, a name filter instances_name_created_idx, the rest walks
 * instances_created_keyset_idx in sort order and stops after p_limit rows. updated_desc has no
 * index (one would cost every ack a non-HOT update): it is a top-N sort over the matching rows.
 */
CREATE FUNCTION dashboard_list_instances(
  p_status          text,
  p_name            text,
  p_created_from_ms bigint,
  p_created_to_ms   bigint,
  p_id_pattern      text,
  p_id_contains     text,
  p_sort            text,
  p_after_ms        bigint,
  p_after_id        text,
  p_limit           integer
)
RETURNS TABLE (
  instance_id           text,
  orchestration_name    text,
  orchestration_version text,
  status                text,
  created_at_ms         bigint,
  updated_at_ms         bigint,
  current_execution_id  bigint,
  parent_instance_id    text
)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  v_key text;
  v_dir text;
  v_where text := dashboard_instance_filter(p_status, p_name, p_created_from_ms, p_created_to_ms,
                                            p_id_pattern, p_id_contains);
BEGIN
  IF p_limit IS NULL OR p_limit < 1 OR p_limit > 1000 THEN
    RAISE EXCEPTION 'dashboard_list_instances: limit must be between 1 and 1000 (got %)', p_limit
      USING ERRCODE = '22023';
  END IF;
  CASE p_sort
    WHEN 'created_desc' THEN v_key := 'i.created_at_ms'; v_dir := 'DESC';
    WHEN 'created_asc' THEN v_key := 'i.created_at_ms'; v_dir := 'ASC';
    WHEN 'updated_desc' THEN v_key := 'i.updated_at_ms'; v_dir := 'DESC';
    ELSE RAISE EXCEPTION 'dashboard_list_instances: unknown sort % (created_desc, created_asc, updated_desc)',
           p_sort USING ERRCODE = '22023';
  END CASE;
  IF p_after_ms IS NOT NULL AND p_after_id IS NOT NULL THEN
    v_where := v_where || format(' AND (%s, i.instance_id) %s ($7, $8)', v_key,
                                 CASE v_dir WHEN 'DESC' THEN '<' ELSE '>' END);
  END IF;
  -- The inner query picks the page from instances alone (joined to executions only to filter by
  -- status), so its sort can stop early or use an index; the outer one adds each row's status.
  -- OFFSET 0 keeps a prefix search on instances_id_prefix_idx: without it the planner may walk the
  -- created index instead, misled by how ids and creation times correlate.
  RETURN QUERY EXECUTE format(
    'SELECT i.instance_id, i.orchestration_name, COALESCE(i.orchestration_version, ''unknown''),
            COALESCE(e.status, ''Running''), i.created_at_ms, i.updated_at_ms, i.current_execution_id,
            i.parent_instance_id
       FROM (SELECT i.*
               FROM %s i
               %s
              WHERE %s
              ORDER BY %s %s, i.instance_id %s
              LIMIT $9) i
       LEFT JOIN executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id
      ORDER BY %s %s, i.instance_id %s',
    CASE WHEN p_id_pattern IS NULL THEN 'instances'
         ELSE '(SELECT * FROM instances WHERE instance_id LIKE $5 OFFSET 0)' END,
    CASE WHEN p_status IS NULL THEN ''
         ELSE 'LEFT JOIN executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id' END,
    v_where, v_key, v_dir, v_dir, v_key, v_dir, v_dir)
    USING p_status, p_name, p_created_from_ms, p_created_to_ms, p_id_pattern, p_id_contains,
          p_after_ms, p_after_id, p_limit;
END
$$;

/*
 * dashboard_count_instances: how many instances match the dashboard's filters (see
 * dashboard_instance_filter), counting at most p_cap of them: the answer is exact below the cap and
 * p_cap means "at least that many". The cap bounds the cost on a large store.
 */
CREATE FUNCTION dashboard_count_instances(
  p_status          text,
  p_name            text,
  p_created_from_ms bigint,
  p_created_to_ms   bigint,
  p_id_pattern      text,
  p_id_contains     text,
  p_cap             integer
) RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  v_count bigint;
BEGIN
  EXECUTE format(
    'SELECT count(*) FROM (SELECT 1
                             FROM instances i
                             LEFT JOIN executions e
                               ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id
                            WHERE %s
                            LIMIT $7) matching',
    dashboard_instance_filter(p_status, p_name, p_created_from_ms, p_created_to_ms, p_id_pattern, p_id_contains))
    INTO v_count
    USING p_status, p_name, p_created_from_ms, p_created_to_ms, p_id_pattern, p_id_contains, p_cap;
  RETURN v_count;
END
$$;

/*
 * dashboard_orchestration_names: the distinct orchestration names of the store, sorted, at most
 * p_limit. A loose index scan over instances_name_created_idx: one index probe per name, however
 * many instances each has.
 */
CREATE FUNCTION dashboard_orchestration_names(p_limit integer) RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  WITH RECURSIVE names(name) AS (
    (SELECT i.orchestration_name FROM instances i ORDER BY i.orchestration_name LIMIT 1)
    UNION ALL
    SELECT (SELECT i.orchestration_name FROM instances i
             WHERE i.orchestration_name > n.name
             ORDER BY i.orchestration_name LIMIT 1)
      FROM names n
     WHERE n.name IS NOT NULL
  )
  SELECT name FROM names WHERE name IS NOT NULL LIMIT p_limit
$$;

/*
 * dashboard_instance: everything the dashboard's instance page shows about one instance in one
 * row (no row when unknown): the instance and its current execution, its custom status, and the
 * current execution's OrchestrationStarted event (its input) and, when it failed, its
 * OrchestrationFailed event (the error), both as stored JSON text. Each event is found through the
 * history's primary key without reading the rest of a long history.
 */
CREATE FUNCTION dashboard_instance(p_instance text)
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

/*
 * dashboard_executions: the newest p_limit executions of an instance, oldest first, each with its
 * number of history events (counted on the history's primary key).
 */
CREATE FUNCTION dashboard_executions(p_instance text, p_limit integer)
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

/*
 * dashboard_instance_tree: the family of an instance for the dashboard: its root ancestor (the
 * highest one still stored, at most 100 levels up) and the root's descendants breadth first, at
 * most p_max_nodes of them and 100 levels deep (both bounds also stop a parent cycle in hostile
 * data), each with its parent, orchestration name and status. No rows when the instance is unknown.
 */
CREATE FUNCTION dashboard_instance_tree(p_instance text, p_max_nodes integer)
RETURNS TABLE (
  instance_id        text,
  parent_instance_id text,
  orchestration_name text,
  status             text,
  depth              integer
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  WITH RECURSIVE up(instance_id, parent_instance_id, hops) AS (
    SELECT i.instance_id, i.parent_instance_id, 0 FROM instances i WHERE i.instance_id = p_instance
    UNION ALL
    SELECT i.instance_id, i.parent_instance_id, u.hops + 1
      FROM instances i JOIN up u ON i.instance_id = u.parent_instance_id
     WHERE u.hops < 100
  ),
  root AS (SELECT u.instance_id FROM up u ORDER BY u.hops DESC LIMIT 1),
  down(instance_id, depth) AS (
    SELECT r.instance_id, 0 FROM root r
    UNION ALL
    SELECT c.instance_id, d.depth + 1
      FROM instances c JOIN down d ON c.parent_instance_id = d.instance_id
     WHERE d.depth < 100
  ),
  family AS (SELECT d.instance_id, d.depth FROM down d LIMIT p_max_nodes)
  SELECT f.instance_id, i.parent_instance_id, i.orchestration_name, COALESCE(e.status, 'Running'), f.depth
    FROM family f
    JOIN instances i ON i.instance_id = f.instance_id
    LEFT JOIN executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id
   ORDER BY f.depth, f.instance_id
$$;

/*
 * dashboard_queue_depths: every message of both queues counted once, as
 *   ready    visible now and free to fetch (get_queue_depths' number),
 *   delayed  not visible yet (timers, retries, abandoned with a delay),
 *   locked   visible but held: by an unexpired fetch token or, for orchestrator messages, behind an
 *            unexpired instance lock,
 * with the age of the oldest ready message (NULL when none) and the sessions held now.
 */
CREATE FUNCTION dashboard_queue_depths(p_now_ms bigint)
RETURNS TABLE (
  orchestrator_ready           bigint,
  orchestrator_delayed         bigint,
  orchestrator_locked          bigint,
  orchestrator_oldest_ready_ms bigint,
  worker_ready                 bigint,
  worker_delayed               bigint,
  worker_locked                bigint,
  worker_oldest_ready_ms       bigint,
  sessions_active              bigint
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  WITH orch AS (
    SELECT CASE WHEN q.visible_at_ms > p_now_ms THEN 'delayed'
                WHEN (q.lock_token IS NOT NULL AND q.locked_until > p_now_ms)
                  OR EXISTS (SELECT 1 FROM instance_locks l
                              WHERE l.instance_id = q.instance_id AND l.locked_until > p_now_ms) THEN 'locked'
                ELSE 'ready' END AS state,
           q.visible_at_ms
      FROM orchestrator_queue q
  ),
  work AS (
    SELECT CASE WHEN w.visible_at_ms > p_now_ms THEN 'delayed'
                WHEN w.lock_token IS NOT NULL AND w.locked_until > p_now_ms THEN 'locked'
                ELSE 'ready' END AS state,
           w.visible_at_ms
      FROM worker_queue w
  )
  SELECT (SELECT count(*) FROM orch WHERE state = 'ready'),
         (SELECT count(*) FROM orch WHERE state = 'delayed'),
         (SELECT count(*) FROM orch WHERE state = 'locked'),
         (SELECT p_now_ms - min(visible_at_ms) FROM orch WHERE state = 'ready'),
         (SELECT count(*) FROM work WHERE state = 'ready'),
         (SELECT count(*) FROM work WHERE state = 'delayed'),
         (SELECT count(*) FROM work WHERE state = 'locked'),
         (SELECT p_now_ms - min(visible_at_ms) FROM work WHERE state = 'ready'),
         (SELECT count(*) FROM sessions s WHERE s.locked_until > p_now_ms)
$$;

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
CREATE FUNCTION dashboard_metrics(p_from_ms bigint, p_to_ms bigint, p_bucket_ms bigint)
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
