-- An orchestrator slot's round trips: ack_and_fetch_orchestration_item commits a turn and fetches
-- the next one in one call (a failed ack fetches nothing), and fetch_orchestration_item_or_wakeup
-- returns, with an empty fetch, the queue's next wake-up time so an idle slot arms its wait
-- without a next_wakeup_at query (docs/store-contract.md §4.6).

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

/*
 * ack_and_fetch_orchestration_item: an orchestrator slot's ack of one turn and its fetch of the
 * next, in one round trip and one transaction (docs/store-contract.md §4.6).
 *   The ack is ack_orchestration_item(p_lock_token, p_now_ms, p_turn): same document, same
 *   errors; when it raises (PD001 for a token without a live lock, PD006 for a bad document, a
 *   unique violation) the whole call rolls back, nothing is fetched and the lock stays as it was.
 *   The fetch is fetch_orchestration_item_or_wakeup for the same p_now_ms and the given lock
 *   timeout and version range: exactly one row, the next turn or, when nothing is ready, the
 *   queue's next wake-up time. It sees what the ack wrote: the acked batch is gone and the lock
 *   released, so it can take the same instance again only for messages that arrived meanwhile
 *   (with a new token), and a message the ack enqueued for another instance is ready for it.
 */
CREATE OR REPLACE FUNCTION ack_and_fetch_orchestration_item(
  p_lock_token      text,
  p_now_ms          bigint,
  p_turn            json,
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
  PERFORM ack_orchestration_item(p_lock_token, p_now_ms, p_turn);
  RETURN QUERY
  SELECT f.instance_id, f.has_instance, f.orchestration_name, f.orchestration_version, f.execution_id,
         f.history, f.messages, f.message_kinds, f.lock_token, f.attempt_count, f.kv_keys, f.kv_values,
         f.kv_updated_at_ms, f.next_wakeup_at_ms
    FROM fetch_orchestration_item_or_wakeup(p_now_ms, p_lock_timeout_ms, p_min_packed, p_max_packed) f;
END
$$;
