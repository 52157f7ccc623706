/*
 * fetch_orchestration_item_or_wakeup: fetch_orchestration_item for the same arguments, and when it
 * finds nothing, the queue's next wake-up time in the same round trip, so an idle slot can arm its
 * wait without a second query (docs/store-contract.md §4.6).
 *   Always exactly one row. With an item: fetch_orchestration_item's columns, next_wakeup_at_ms
 *   NULL. Without: every fetch column NULL (instance_id NULL is how a caller tells) and
 *   next_wakeup_at_ms what next_wakeup_at('orch', p_now_ms) returns (NULL: nothing pending).
 * Composes fetch_orchestration_item and next_wakeup_at rather than repeating them, so it serves
 * whatever they serve.
 */
CREATE OR REPLACE FUNCTION fetch_orchestration_item_or_wakeup(
  p_now_ms          bigint,
  p_lock_timeout_ms bigint,
  p_min_packed      bigint,
  p_max_packed      bigint
)
RETURNS TABLE (
  instance_id           text,
  has_instance          boolean,
  orchestration_name    text,
  orchestration_version text,
  execution_id          bigint,
  history               text[],
  messages              text[],
  message_kinds         text[],
  lock_token            text,
  attempt_count         integer,
  kv_keys               text[],
  kv_values             text[],
  kv_updated_at_ms      bigint[],
  next_wakeup_at_ms     bigint
)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT f.instance_id, f.has_instance, f.orchestration_name, f.orchestration_version, f.execution_id,
         f.history, f.messages, f.message_kinds, f.lock_token, f.attempt_count, f.kv_keys, f.kv_values,
         f.kv_updated_at_ms, NULL::bigint
    FROM fetch_orchestration_item(p_now_ms, p_lock_timeout_ms, p_min_packed, p_max_packed) f;
  IF NOT FOUND THEN
    next_wakeup_at_ms := next_wakeup_at('orch', p_now_ms);
    RETURN NEXT;
  END IF;
END
$$;
