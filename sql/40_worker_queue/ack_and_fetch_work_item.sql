/*
 * ack_and_fetch_work_item: a worker slot's ack of one activity and its fetch of the next item, in
 * one round trip and one transaction. The ack is ack_work_item's (same arguments, same PD001 when
 * the token holds no live lock: then the call fails as a whole and nothing is fetched); the fetch
 * is fetch_work_item's for the given filter and session arguments (it never waits: candidates are
 * taken FOR UPDATE SKIP LOCKED and sessions by claim), returning no row when nothing is available.
 * Both run at p_now_ms. The fetch sees the acked row as deleted, so an ack can never fetch itself.
 */
CREATE OR REPLACE FUNCTION ack_and_fetch_work_item(
  p_lock_token              text,
  p_completion_kind         text,
  p_completion              text,
  p_instance                text,
  p_now_ms                  bigint,
  p_lock_timeout_ms         bigint,
  p_owner_id                text,
  p_session_lock_timeout_ms bigint,
  p_tag_mode                text,
  p_tags                    text[]
) RETURNS TABLE (work_item text, lock_token text, attempt_count integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  PERFORM ack_work_item(p_lock_token, p_completion_kind, p_completion, p_instance, p_now_ms);
  RETURN QUERY
  SELECT f.work_item, f.lock_token, f.attempt_count
    FROM fetch_work_item(p_now_ms, p_lock_timeout_ms, p_owner_id, p_session_lock_timeout_ms,
                         p_tag_mode, p_tags) f;
END
$$;
