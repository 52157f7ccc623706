-- duroxide 0.1.32 provider contract ("Changes since 0.1.27" in provider-contract.md).
--
-- Checked and already met, so unchanged here:
--   * abandon_orchestration_item (0002) releases, delays and un-counts only the rows tagged with
--     its token, i.e. the batch its fetch locked; rows that arrived during the turn or are still
--     hidden by an earlier delayed abandon keep their visibility and attempt count (the 0.1.31
--     tests orchestration_delayed_abandon_preserves_unlocked_rows and
--     orchestration_ignore_attempt_preserves_hidden_start exercise exactly that).
--   * ack_orchestration_item has stamped completed_at_ms for ContinuedAsNew since 0002.
--   * history.event_data and the queues' work_item are text, stored and returned verbatim.
--   * lock tokens are random UUIDs with unique constraints (instance_locks, worker_queue).
--   * fetch never hands out an expired lease: non-blocking try-locks, and 0016's confirm step
--     when the handover took long.
--
-- Changed here:
-- 1. Renewal never shortens a live lease (duroxide-pg 0026): the new deadline is the later of the
--    current one and now + p_extend_ms, for the orchestration lock (and its tagged rows) and for
--    a work item. It still never revives an expired lease (lock_instance_for_token with
--    p_require_unexpired, and `locked_until > p_now_ms` for work items).
-- 2. Backfill completed_at_ms of ContinuedAsNew executions that lack it (rows written by anything
--    other than our ack: an import, a hand repair), so completedBefore filters (prune, bulk
--    delete) select them (duroxide-pg 0024). The time is that of the execution's
--    OrchestrationContinuedAsNew row, else its last history row, else its start: no event JSON
--    is parsed, so a corrupt row cannot fail the migration.

CREATE OR REPLACE FUNCTION renew_orchestration_item_lock(
  p_lock_token text,
  p_now_ms     bigint,
  p_extend_ms  bigint
) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  -- Waits for the instance's advisory lock, then row-locks the lease: the same order as ack and
  -- abandon, and fetch only ever try-locks, so renew cannot deadlock with them.
  v_instance text := lock_instance_for_token(p_lock_token, p_now_ms, true);
BEGIN
  UPDATE instance_locks SET locked_until = GREATEST(locked_until, p_now_ms + p_extend_ms)
   WHERE instance_id = v_instance AND lock_token = p_lock_token;
  UPDATE orchestrator_queue SET locked_until = GREATEST(locked_until, p_now_ms + p_extend_ms)
   WHERE lock_token = p_lock_token;
END
$$;

CREATE OR REPLACE FUNCTION renew_work_item_lock(p_lock_token text, p_extend_ms bigint, p_now_ms bigint)
RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_session text;
BEGIN
  UPDATE worker_queue SET locked_until = GREATEST(locked_until, p_now_ms + p_extend_ms)
   WHERE lock_token = p_lock_token AND locked_until > p_now_ms
  RETURNING session_id INTO v_session;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'Invalid lock token: the work item is gone, acked or its lock expired'
      USING ERRCODE = 'PD001';
  END IF;
  IF v_session IS NOT NULL THEN
    PERFORM touch_session(v_session, p_now_ms);
  END IF;
END
$$;

UPDATE executions e
   SET completed_at_ms = COALESCE(
         (SELECT max(h.created_at_ms) FROM history h
           WHERE h.instance_id = e.instance_id AND h.execution_id = e.execution_id
             AND h.event_type = 'OrchestrationContinuedAsNew'),
         (SELECT max(h.created_at_ms) FROM history h
           WHERE h.instance_id = e.instance_id AND h.execution_id = e.execution_id),
         e.started_at_ms)
 WHERE e.status = 'ContinuedAsNew'
   AND e.completed_at_ms IS NULL;
