/*
 * dashboard_queue_depths: every message of both queues counted once, as
 *   ready    visible now and free to fetch (get_queue_depths' number),
 *   delayed  not visible yet (timers, retries, abandoned with a delay),
 *   locked   visible but held: by an unexpired fetch token or, for orchestrator messages, behind an
 *            unexpired instance lock,
 * with the age of the oldest ready message (NULL when none) and the sessions held now.
 */
CREATE OR REPLACE FUNCTION dashboard_queue_depths(p_now_ms bigint)
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
