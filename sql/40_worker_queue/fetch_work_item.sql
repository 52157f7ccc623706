/*
 * fetch_work_item: lock the oldest available item this caller may run, for p_lock_timeout_ms,
 * with a fresh token, counting an attempt. Available: visible, and unlocked or its lock expired.
 *   Tags (p_tag_mode): 'default_only' untagged items only, 'tags' items whose tag is in p_tags,
 *   'default_and' both, 'any' everything; any other mode raises PD006.
 *   Sessions: p_owner_id NULL serves only items outside sessions; p_owner_id set also serves items
 *   of sessions this owner holds or nobody holds (never claimed, cleaned up or lease expired), and
 *   claims or refreshes that session for p_owner_id (lease now + p_session_lock_timeout_ms) in the
 *   same transaction; if another owner won the session in a race, nothing is locked or counted.
 * Never waits: the candidate row is taken FOR UPDATE SKIP LOCKED. No row when nothing is available.
 *
 * Cost does not grow with rows the caller cannot take. Every available row is in exactly one of:
 *   fresh     unleased and visible_at_ms <= created_at_ms: served in id order from the partial
 *             indexes worker_queue_fresh_{default,tagged,session}_idx, one probe per tag (the
 *             tags of the filter; for 'any', every tag present, by a skip scan) and, with an owner,
 *             one per queued session not held by another owner (a skip scan over session ids);
 *   deferred  unleased and visible_at_ms > created_at_ms (abandoned; with a delay or not): found
 *             by worker_queue_deferred_idx once visible_at_ms <= now, so retries still hidden are
 *             never read;
 *   expired   leased with locked_until <= now: worker_queue_lease_end_idx.
 * (A leased row with a live lease is not available; lock_token IS NULL or not, and visible_at_ms
 * against created_at_ms, split the rest.) The candidate is the lowest id over all probes, as the
 * single id-ordered scan this replaces chose. Probes read without locking; the candidate is then
 * locked FOR UPDATE SKIP LOCKED with its availability re-checked on the row's latest version. A row
 * a concurrent fetch holds or has just taken is skipped and the probes run again without it
 * (bounded by the number of concurrent fetchers; after 32 such misses the call returns nothing and
 * the caller polls again, as after any empty fetch).
 * Costs that remain: a deferred row that became visible and rows with expired leases are sorted by
 * id (few: they are taken first), and an owner's fetch makes one index probe per distinct session
 * with fresh rows (sessions held by others included, their items never read).
 */
CREATE OR REPLACE FUNCTION fetch_work_item(
  p_now_ms                  bigint,
  p_lock_timeout_ms         bigint,
  p_owner_id                text,
  p_session_lock_timeout_ms bigint,
  p_tag_mode                text,
  p_tags                    text[]
) RETURNS TABLE (work_item text, lock_token text, attempt_count integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
#variable_conflict use_column
DECLARE
  v_default   boolean := p_tag_mode IN ('default_only', 'default_and', 'any');
  v_any       boolean := p_tag_mode = 'any';
  v_tags      text[];
  v_held      text[] := '{}';
  v_skipped   bigint[] := '{}';
  v_candidate bigint;
  v_id        bigint;
  v_session   text;
  v_token     text := gen_random_uuid()::text;
BEGIN
  IF p_tag_mode NOT IN ('default_only', 'tags', 'default_and', 'any') THEN
    RAISE EXCEPTION 'unknown tag filter mode: %', p_tag_mode USING ERRCODE = 'PD006';
  END IF;
  IF v_any THEN
    -- Every tag with fresh rows: a skip scan, one index probe per distinct tag.
    WITH RECURSIVE t(tag) AS (
      (SELECT q.tag FROM worker_queue q
        WHERE q.lock_token IS NULL AND q.visible_at_ms <= q.created_at_ms
          AND q.session_id IS NULL AND q.tag IS NOT NULL
        ORDER BY q.tag LIMIT 1)
      UNION ALL
      SELECT (SELECT q.tag FROM worker_queue q
               WHERE q.lock_token IS NULL AND q.visible_at_ms <= q.created_at_ms
                 AND q.session_id IS NULL AND q.tag IS NOT NULL AND q.tag > t.tag
               ORDER BY q.tag LIMIT 1)
        FROM t WHERE t.tag IS NOT NULL
    )
    SELECT COALESCE(array_agg(t.tag), '{}') INTO v_tags FROM t WHERE t.tag IS NOT NULL;
  ELSIF p_tag_mode IN ('tags', 'default_and') THEN
    v_tags := COALESCE(p_tags, '{}');
  ELSE
    v_tags := '{}';
  END IF;
  IF p_owner_id IS NOT NULL THEN
    v_held := ARRAY(SELECT s.session_id FROM sessions s
                     WHERE s.locked_until > p_now_ms AND s.owner_id <> p_owner_id);
  END IF;

  FOR attempt IN 1..32 LOOP
    SELECT LEAST(
      -- fresh, untagged, outside sessions
      CASE WHEN v_default THEN
        (SELECT q.id FROM worker_queue q
          WHERE q.lock_token IS NULL AND q.visible_at_ms <= q.created_at_ms
            AND q.session_id IS NULL AND q.tag IS NULL
            AND q.visible_at_ms <= p_now_ms AND q.id <> ALL (v_skipped)
          ORDER BY q.id LIMIT 1)
      END,
      -- fresh, tagged, outside sessions: one probe per tag
      (SELECT min(f.id)
         FROM unnest(v_tags) AS wanted(tag)
         CROSS JOIN LATERAL (
           SELECT q.id FROM worker_queue q
            WHERE q.lock_token IS NULL AND q.visible_at_ms <= q.created_at_ms
              AND q.session_id IS NULL AND q.tag IS NOT NULL AND q.tag = wanted.tag
              AND q.visible_at_ms <= p_now_ms AND q.id <> ALL (v_skipped)
            ORDER BY q.id LIMIT 1) f),
      -- fresh, in a session nobody else holds: one probe per queued session
      CASE WHEN p_owner_id IS NOT NULL THEN
        (WITH RECURSIVE s(session_id) AS (
           (SELECT q.session_id FROM worker_queue q
             WHERE q.lock_token IS NULL AND q.visible_at_ms <= q.created_at_ms
               AND q.session_id IS NOT NULL
             ORDER BY q.session_id LIMIT 1)
           UNION ALL
           SELECT (SELECT q.session_id FROM worker_queue q
                    WHERE q.lock_token IS NULL AND q.visible_at_ms <= q.created_at_ms
                      AND q.session_id IS NOT NULL AND q.session_id > s.session_id
                    ORDER BY q.session_id LIMIT 1)
             FROM s WHERE s.session_id IS NOT NULL
         )
         SELECT min(f.id)
           FROM s
           CROSS JOIN LATERAL (
             SELECT q.id FROM worker_queue q
              WHERE q.lock_token IS NULL AND q.visible_at_ms <= q.created_at_ms
                AND q.session_id IS NOT NULL AND q.session_id = s.session_id
                AND q.visible_at_ms <= p_now_ms AND q.id <> ALL (v_skipped)
                AND CASE WHEN q.tag IS NULL THEN v_default ELSE v_any OR q.tag = ANY (v_tags) END
              ORDER BY q.id LIMIT 1) f
          WHERE s.session_id IS NOT NULL AND s.session_id <> ALL (v_held))
      END,
      -- deferred rows now visible, and rows whose lease expired. OFFSET 0 keeps each a scan of
      -- its partial index: min(id) over the table would otherwise become a walk of the primary key
      -- (the planner guesses a third of the rows match), reading every row the fetch cannot take.
      (SELECT min(d.id) FROM (
        SELECT q.id FROM worker_queue q
        WHERE q.lock_token IS NULL AND q.visible_at_ms > q.created_at_ms
          AND q.visible_at_ms <= p_now_ms AND q.id <> ALL (v_skipped)
          AND CASE WHEN q.tag IS NULL THEN v_default ELSE v_any OR q.tag = ANY (v_tags) END
          AND (q.session_id IS NULL
               OR (p_owner_id IS NOT NULL AND q.session_id <> ALL (v_held)))
        OFFSET 0) d),
      (SELECT min(e.id) FROM (
        SELECT q.id FROM worker_queue q
        WHERE q.lock_token IS NOT NULL AND q.locked_until <= p_now_ms
          AND q.visible_at_ms <= p_now_ms AND q.id <> ALL (v_skipped)
          AND CASE WHEN q.tag IS NULL THEN v_default ELSE v_any OR q.tag = ANY (v_tags) END
          AND (q.session_id IS NULL
               OR (p_owner_id IS NOT NULL AND q.session_id <> ALL (v_held)))
        OFFSET 0) e)
    ) INTO v_candidate;
    IF v_candidate IS NULL THEN
      RETURN;
    END IF;

    -- Lock it unless a concurrent fetch holds it; re-check availability on its latest version.
    SELECT q.id, q.session_id INTO v_id, v_session
      FROM worker_queue q
     WHERE q.id = v_candidate
       AND q.visible_at_ms <= p_now_ms
       AND (q.lock_token IS NULL OR q.locked_until <= p_now_ms)
       FOR UPDATE SKIP LOCKED;
    EXIT WHEN FOUND;
    v_skipped := v_skipped || v_candidate;
  END LOOP;
  IF v_id IS NULL THEN
    RETURN;
  END IF;
  IF v_session IS NOT NULL AND NOT claim_session(v_session, p_owner_id, p_session_lock_timeout_ms, p_now_ms) THEN
    RETURN;
  END IF;
  RETURN QUERY
  UPDATE worker_queue q
     SET lock_token = v_token, locked_until = p_now_ms + p_lock_timeout_ms, attempt_count = q.attempt_count + 1
   WHERE q.id = v_id
  RETURNING q.work_item, q.lock_token, q.attempt_count;
END
$$;
