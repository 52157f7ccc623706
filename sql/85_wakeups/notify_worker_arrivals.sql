/*
 * notify_worker_arrivals (statement trigger on worker_queue inserts): one notification on the
 * 'work' channel per (tag, session) group of the rows the statement added, a JSON object the
 * provider's listener routes by (src/provider/wakeups.ts):
 *   n         rows in the group: wake up to that many fetches
 *   tag       their tag (null: untagged)
 *   session   their session id (null: none)
 *   owner     the session's owner at insert time (null: unowned or expired), so the owner's slot
 *             is the one woken
 *   first_id  the group's first row id: makes every payload unique, since Postgres folds identical
 *             notifications of one transaction into one and the count would be lost
 * A statement with more than 16 groups, or a group too long to describe (payloads are capped at
 * 8000 bytes), sends {"n", "first_id"} alone: the listener then wakes one fetch of each kind.
 * Delivered at commit; never raises.
 */
CREATE OR REPLACE FUNCTION notify_worker_arrivals() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  v_group record;
  v_payload text;
BEGIN
  IF (SELECT count(*) FROM (SELECT DISTINCT a.tag, a.session_id FROM added a) g) > 16 THEN
    PERFORM pg_notify(wakeup_channel('work'),
                      json_build_object('n', count(*), 'first_id', min(a.id))::text)
       FROM added a;
    RETURN NULL;
  END IF;
  FOR v_group IN
    SELECT g.n, g.first_id, g.tag, g.session_id, s.owner_id
      FROM (SELECT a.tag, a.session_id, count(*) AS n, min(a.id) AS first_id, max(a.created_at_ms) AS at_ms
              FROM added a
             GROUP BY a.tag, a.session_id) g
      LEFT JOIN sessions s ON s.session_id = g.session_id AND s.locked_until > g.at_ms
  LOOP
    v_payload := json_build_object('n', v_group.n, 'first_id', v_group.first_id, 'tag', v_group.tag,
                                   'session', v_group.session_id, 'owner', v_group.owner_id)::text;
    IF octet_length(v_payload) > 7900 THEN
      v_payload := json_build_object('n', v_group.n, 'first_id', v_group.first_id)::text;
    END IF;
    PERFORM pg_notify(wakeup_channel('work'), v_payload);
  END LOOP;
  RETURN NULL;
END
$$;
