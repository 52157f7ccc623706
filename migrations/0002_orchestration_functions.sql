-- The orchestrator side of the store: the orchestrator queue, instance locks and history.
-- Contract: provider-contract.md §5.1, §5.3–5.6, §5.13–5.15, §7.1–7.3.
--
-- Payloads (work items, events) are JSON text produced by the TypeScript codec and are stored and
-- returned verbatim; these functions never parse them. The caller extracts what SQL needs (the
-- variant name, the routing instance, a timer's fire_at_ms, event ids) and passes batches as
-- parallel arrays, so every provider method is one call and one transaction.
--
-- Concurrency: every function that changes the state of one instance (fetch, ack, abandon, renew)
-- first takes a transaction-level advisory lock on that instance (instance_lock_key). Fetch only
-- ever *tries* it and moves on to another instance when it is taken; ack, abandon and renew wait
-- for it, which is brief because its holders never wait on anything of theirs. All row locks of
-- an instance are taken under that lock, so two of these functions cannot deadlock on one instance.
--
-- Errors (class PD, never retried): PD001 invalid/expired lock token, PD006 invalid input.

-- The advisory-lock key of an instance: 64 bits, in a namespace of its own (the migration runner
-- uses 'pg-durable:migrate:'). Advisory locks are database-wide, so the key includes the schema
-- (current_schema() is the function's own, pinned by SET search_path): the same instance id in
-- two schemas must not contend.
CREATE OR REPLACE FUNCTION instance_lock_key(p_instance text) RETURNS bigint
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
  SELECT hashtextextended('pgd:instance:' || current_schema() || ':' || p_instance, 0)
$$;

/*
 * lock_instance_for_token: the instance whose lock p_lock_token holds, with that instance's
 * advisory lock taken (waiting for it) and the lock row re-read and row-locked under it.
 * PD001 "Invalid lock token" when no lock row carries the token (never issued, released by ack or
 * abandon, or taken over after expiry) or, with p_require_unexpired, when it has expired.
 */
CREATE OR REPLACE FUNCTION lock_instance_for_token(
  p_lock_token         text,
  p_now_ms             bigint,
  p_require_unexpired  boolean
) RETURNS text
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_instance text;
  v_until    bigint;
BEGIN
  SELECT l.instance_id INTO v_instance FROM instance_locks l WHERE l.lock_token = p_lock_token;
  IF FOUND THEN
    PERFORM pg_advisory_xact_lock(instance_lock_key(v_instance));
    -- A new statement sees whatever the previous holder of the advisory lock committed.
    SELECT l.locked_until INTO v_until
      FROM instance_locks l
     WHERE l.instance_id = v_instance AND l.lock_token = p_lock_token
       FOR UPDATE;
    IF FOUND AND (v_until > p_now_ms OR NOT p_require_unexpired) THEN
      RETURN v_instance;
    END IF;
  END IF;
  RAISE EXCEPTION 'Invalid lock token: the lock is unknown, released, expired or held by another fetch'
    USING ERRCODE = 'PD001';
END
$$;

/*
 * append_history_rows: insert events under (instance, execution) exactly as given. Rejects an
 * event_id of 0 (a runtime bug) and arrays of different lengths with PD006. A duplicate key raises
 * unique_violation; callers decide what that means (ack: the whole turn fails).
 */
CREATE OR REPLACE FUNCTION append_history_rows(
  p_instance     text,
  p_execution_id bigint,
  p_event_ids    bigint[],
  p_event_types  text[],
  p_event_data   text[],
  p_now_ms       bigint
) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  IF COALESCE(cardinality(p_event_ids), 0) = 0 THEN
    RETURN;
  END IF;
  IF cardinality(p_event_ids) <> COALESCE(cardinality(p_event_types), 0)
     OR cardinality(p_event_ids) <> COALESCE(cardinality(p_event_data), 0) THEN
    RAISE EXCEPTION 'history delta arrays differ in length' USING ERRCODE = 'PD006';
  END IF;
  IF EXISTS (SELECT 1 FROM unnest(p_event_ids) AS e(id) WHERE e.id IS NULL OR e.id <= 0) THEN
    RAISE EXCEPTION 'event_id must be >= 1 (got 0 for instance %): event ids are assigned by the runtime',
      p_instance USING ERRCODE = 'PD006';
  END IF;
  INSERT INTO history (instance_id, execution_id, event_id, event_type, event_data, created_at_ms)
  SELECT p_instance, p_execution_id, e.id, e.type, e.data, p_now_ms
    FROM unnest(p_event_ids, p_event_types, p_event_data) AS e(id, type, data);
END
$$;

/*
 * enqueue_orchestrator_item: put one message on the orchestrator queue of p_instance (the routing
 * instance the caller derived: parent_instance for sub-orchestration completions).
 * Visible at now + delay; a TimerFired with fire_at_ms > 0 not before its fire time. Never creates
 * or touches instances/executions and never waits on the instance lock: a message for a locked
 * instance simply joins the instance's next batch. ActivityExecute belongs to the worker queue.
 */
CREATE OR REPLACE FUNCTION enqueue_orchestrator_item(
  p_instance   text,
  p_kind       text,
  p_work_item  text,
  p_fire_at_ms bigint,
  p_delay_ms   bigint,
  p_now_ms     bigint
) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_visible_at bigint := p_now_ms + GREATEST(COALESCE(p_delay_ms, 0), 0);
BEGIN
  IF p_kind = 'ActivityExecute' THEN
    RAISE EXCEPTION 'ActivityExecute belongs to the worker queue, not the orchestrator queue'
      USING ERRCODE = 'PD006';
  END IF;
  IF p_kind = 'TimerFired' AND COALESCE(p_fire_at_ms, 0) > 0 THEN
    v_visible_at := GREATEST(p_fire_at_ms, v_visible_at);
  END IF;
  INSERT INTO orchestrator_queue (instance_id, kind, work_item, visible_at_ms, created_at_ms)
  VALUES (p_instance, p_kind, p_work_item, v_visible_at, p_now_ms);
END
$$;

/*
 * fetch_orchestration_item: lock the next ready instance and return its turn in one row, or no
 * row when no instance is ready.
 *
 * Two-phase locking, in a loop over candidates:
 *   1. peek, without row locks, the oldest visible message (visible_at_ms, id) of an instance that
 *      has no unexpired instance lock;
 *   2. try the instance's advisory lock; taken by someone else → next candidate (never block);
 *   3. re-verify under it: no unexpired instance lock, and lock the instance's visible rows that no
 *      unexpired token holds (FOR UPDATE SKIP LOCKED); nothing left → next candidate;
 *   4. unknown instances (no instances row, no executions, no StartOrchestration/ContinueAsNew in
 *      the batch): a batch of only QueueMessages is an orphan mailbox and is deleted; any other
 *      batch (e.g. a CancelInstance racing its start) is left untouched, attempts not counted, for
 *      when the start arrives → next candidate either way;
 *   5. insert the instance lock, or take over an expired one, with a fresh token; lost → next;
 *   6. tag the locked rows with the token and lock deadline and count an attempt on each.
 * A lost race therefore never makes the fetch report "nothing" while another instance is ready.
 *
 * Returns the raw material; the caller decodes it:
 *   has_instance          whether an instances row exists
 *   orchestration_name / orchestration_version   from the instances row (NULL otherwise)
 *   execution_id          instances.current_execution_id, else MAX(executions), else NULL (the
 *                         caller takes it from the batch's StartOrchestration)
 *   history               that execution's event texts by event_id ('{}' if none)
 *   messages / message_kinds   the tagged batch by id
 *   attempt_count         the maximum attempt count over the batch
 * The attempt increments commit with the lock even when the caller then fails to decode the
 * history: that is what lets a corrupt instance run into the poison path.
 */
CREATE OR REPLACE FUNCTION fetch_orchestration_item(p_now_ms bigint, p_lock_timeout_ms bigint)
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
  attempt_count         integer
)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
#variable_conflict use_column
DECLARE
  v_skipped   text[] := '{}';
  v_instance  text;
  v_ids       bigint[];
  v_kinds     text[];
  v_token     text;
  v_locked    integer;
  v_has_row   boolean;
  v_name      text;
  v_version   text;
  v_execution bigint;
  v_messages  text[];
  v_attempts  integer;
  v_history   text[];
BEGIN
  LOOP
    -- 1. Peek.
    SELECT q.instance_id INTO v_instance
      FROM orchestrator_queue q
     WHERE q.visible_at_ms <= p_now_ms
       AND (q.lock_token IS NULL OR q.locked_until <= p_now_ms)
       AND q.instance_id <> ALL (v_skipped)
       AND NOT EXISTS (SELECT 1 FROM instance_locks l
                        WHERE l.instance_id = q.instance_id AND l.locked_until > p_now_ms)
     ORDER BY q.visible_at_ms, q.id
     LIMIT 1;
    IF NOT FOUND THEN
      RETURN;
    END IF;
    v_skipped := v_skipped || v_instance;

    -- 2. Advisory lock, without waiting.
    CONTINUE WHEN NOT pg_try_advisory_xact_lock(instance_lock_key(v_instance));

    -- 3. Re-verify and lock the batch.
    CONTINUE WHEN EXISTS (SELECT 1 FROM instance_locks l
                           WHERE l.instance_id = v_instance AND l.locked_until > p_now_ms);
    SELECT array_agg(b.id ORDER BY b.id), array_agg(b.kind ORDER BY b.id)
      INTO v_ids, v_kinds
      FROM (SELECT q.id, q.kind
              FROM orchestrator_queue q
             WHERE q.instance_id = v_instance
               AND q.visible_at_ms <= p_now_ms
               AND (q.lock_token IS NULL OR q.locked_until <= p_now_ms)
               FOR UPDATE SKIP LOCKED) b;
    CONTINUE WHEN v_ids IS NULL;

    -- 4. Instance metadata, and the orphan rule for instances nobody started.
    SELECT true, i.orchestration_name, i.orchestration_version, i.current_execution_id
      INTO v_has_row, v_name, v_version, v_execution
      FROM instances i
     WHERE i.instance_id = v_instance;
    IF NOT FOUND THEN
      v_has_row := false;
      v_name := NULL;
      v_version := NULL;
      SELECT max(e.execution_id) INTO v_execution FROM executions e WHERE e.instance_id = v_instance;
      IF v_execution IS NULL
         AND NOT ('StartOrchestration' = ANY (v_kinds) OR 'ContinueAsNew' = ANY (v_kinds)) THEN
        IF 'QueueMessage' = ALL (v_kinds) THEN
          DELETE FROM orchestrator_queue q WHERE q.id = ANY (v_ids);
        END IF;
        CONTINUE;
      END IF;
    END IF;

    -- 5. The instance lock: insert, or take over an expired one.
    v_token := gen_random_uuid()::text;
    INSERT INTO instance_locks AS l (instance_id, lock_token, locked_until, locked_at)
    VALUES (v_instance, v_token, p_now_ms + p_lock_timeout_ms, p_now_ms)
    ON CONFLICT (instance_id) DO UPDATE
      SET lock_token = EXCLUDED.lock_token, locked_until = EXCLUDED.locked_until, locked_at = EXCLUDED.locked_at
      WHERE l.locked_until <= p_now_ms;
    GET DIAGNOSTICS v_locked = ROW_COUNT;
    CONTINUE WHEN v_locked = 0;

    -- 6. Tag the batch.
    WITH tagged AS (
      UPDATE orchestrator_queue q
         SET lock_token = v_token,
             locked_until = p_now_ms + p_lock_timeout_ms,
             attempt_count = q.attempt_count + 1
       WHERE q.id = ANY (v_ids)
      RETURNING q.id, q.work_item, q.attempt_count
    )
    SELECT array_agg(t.work_item ORDER BY t.id), max(t.attempt_count)
      INTO v_messages, v_attempts
      FROM tagged t;

    SELECT array_agg(h.event_data ORDER BY h.event_id) INTO v_history
      FROM history h
     WHERE h.instance_id = v_instance AND h.execution_id = v_execution;

    instance_id := v_instance;
    has_instance := v_has_row;
    orchestration_name := v_name;
    orchestration_version := v_version;
    execution_id := v_execution;
    history := COALESCE(v_history, '{}');
    messages := v_messages;
    message_kinds := v_kinds;
    lock_token := v_token;
    attempt_count := v_attempts;
    RETURN NEXT;
    RETURN;
  END LOOP;
END
$$;

/*
 * ack_orchestration_item: commit one orchestration turn, all or nothing (contract §5.4).
 *   1. the token must hold an unexpired instance lock (PD001 "Invalid lock token"); the instance
 *      comes from the lock, never from the payloads;
 *   2. with both a name and a version: create the instance row if absent, set name and version,
 *      fill parent_instance_id only if it was NULL (immutable once set);
 *   3. create the execution row (Running) if absent;
 *   5. current_execution_id := greatest(current, p_execution_id);
 *   6. append the history delta as given (event_id 0 → PD006; an existing (instance, execution,
 *      event_id) → unique violation, the whole ack rolls back);
 *   7. with a status: set status and output, stamp completed_at for Completed, Failed and
 *      ContinuedAsNew;
 *  10. insert the worker items (visible now) with their identity columns;
 *  12. insert the orchestrator items, each on its routing instance's queue, visible now or, for a
 *      TimerFired with fire_at_ms > 0, at fire_at_ms;
 *  13. delete the batch tagged with this token (messages that arrived during the turn stay);
 *  14. release the lock.
 * Any failure rolls everything back, so the lock is still held by the same token afterwards.
 */
CREATE OR REPLACE FUNCTION ack_orchestration_item(
  p_lock_token            text,
  p_now_ms                bigint,
  p_execution_id          bigint,
  p_event_ids             bigint[],
  p_event_types           text[],
  p_event_data            text[],
  p_worker_items          text[],
  p_worker_instances      text[],
  p_worker_execution_ids  bigint[],
  p_worker_activity_ids   bigint[],
  p_worker_session_ids    text[],
  p_worker_tags           text[],
  p_orch_kinds            text[],
  p_orch_items            text[],
  p_orch_instances        text[],
  p_orch_fire_at_ms       bigint[],
  p_status                text,
  p_output                text,
  p_orchestration_name    text,
  p_orchestration_version text,
  p_parent_instance_id    text
) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_instance text := lock_instance_for_token(p_lock_token, p_now_ms, true);
BEGIN
  -- 2. Instance row.
  IF p_orchestration_name IS NOT NULL AND p_orchestration_version IS NOT NULL THEN
    INSERT INTO instances AS i (instance_id, orchestration_name, orchestration_version, current_execution_id,
                                parent_instance_id, created_at_ms, updated_at_ms)
    VALUES (v_instance, p_orchestration_name, p_orchestration_version, p_execution_id,
            p_parent_instance_id, p_now_ms, p_now_ms)
    ON CONFLICT (instance_id) DO UPDATE
      SET orchestration_name = EXCLUDED.orchestration_name,
          orchestration_version = EXCLUDED.orchestration_version,
          parent_instance_id = COALESCE(i.parent_instance_id, EXCLUDED.parent_instance_id);
  END IF;

  -- 3. Execution row.
  INSERT INTO executions (instance_id, execution_id, status, started_at_ms)
  VALUES (v_instance, p_execution_id, 'Running', p_now_ms)
  ON CONFLICT (instance_id, execution_id) DO NOTHING;

  -- 5. Current execution.
  UPDATE instances
     SET current_execution_id = GREATEST(current_execution_id, p_execution_id), updated_at_ms = p_now_ms
   WHERE instance_id = v_instance;

  -- 6. History.
  PERFORM append_history_rows(v_instance, p_execution_id, p_event_ids, p_event_types, p_event_data, p_now_ms);

  -- 7. Execution status.
  IF p_status IS NOT NULL THEN
    UPDATE executions
       SET status = p_status,
           output = p_output,
           completed_at_ms = CASE WHEN p_status IN ('Completed', 'Failed', 'ContinuedAsNew') THEN p_now_ms
                                  ELSE completed_at_ms END
     WHERE instance_id = v_instance AND execution_id = p_execution_id;
  END IF;

  -- 10. Worker items.
  INSERT INTO worker_queue (kind, work_item, visible_at_ms, instance_id, execution_id, activity_id,
                            session_id, tag, created_at_ms)
  SELECT 'ActivityExecute', w.item, p_now_ms, w.instance, w.execution_id, w.activity_id, w.session_id, w.tag, p_now_ms
    FROM unnest(p_worker_items, p_worker_instances, p_worker_execution_ids, p_worker_activity_ids,
                p_worker_session_ids, p_worker_tags)
           WITH ORDINALITY AS w(item, instance, execution_id, activity_id, session_id, tag, n)
   ORDER BY w.n;

  -- 12. Orchestrator items.
  IF 'ActivityExecute' = ANY (p_orch_kinds) THEN
    RAISE EXCEPTION 'ActivityExecute belongs to the worker queue, not the orchestrator queue'
      USING ERRCODE = 'PD006';
  END IF;
  INSERT INTO orchestrator_queue (instance_id, kind, work_item, visible_at_ms, created_at_ms)
  SELECT o.instance, o.kind, o.item,
         CASE WHEN o.kind = 'TimerFired' AND COALESCE(o.fire_at_ms, 0) > 0 THEN o.fire_at_ms ELSE p_now_ms END,
         p_now_ms
    FROM unnest(p_orch_kinds, p_orch_items, p_orch_instances, p_orch_fire_at_ms)
           WITH ORDINALITY AS o(kind, item, instance, fire_at_ms, n)
   ORDER BY o.n;

  -- 13, 14. Consume the batch and release the lock.
  DELETE FROM orchestrator_queue WHERE lock_token = p_lock_token;
  DELETE FROM instance_locks WHERE instance_id = v_instance AND lock_token = p_lock_token;
END
$$;

/*
 * abandon_orchestration_item: release a turn without committing it. The token must still own the
 * instance lock (an expired lock nobody has taken over is accepted), else PD001. The tagged rows
 * are untagged; with p_delay_ms > 0 they become visible at now + delay (without a delay their
 * visible_at is left alone); with p_ignore_attempt their attempt count is decremented (floor 0).
 */
CREATE OR REPLACE FUNCTION abandon_orchestration_item(
  p_lock_token     text,
  p_now_ms         bigint,
  p_delay_ms       bigint,
  p_ignore_attempt boolean
) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_instance text := lock_instance_for_token(p_lock_token, p_now_ms, false);
BEGIN
  UPDATE orchestrator_queue
     SET lock_token = NULL,
         locked_until = NULL,
         visible_at_ms = CASE WHEN COALESCE(p_delay_ms, 0) > 0 THEN p_now_ms + p_delay_ms ELSE visible_at_ms END,
         attempt_count = CASE WHEN p_ignore_attempt THEN GREATEST(attempt_count - 1, 0) ELSE attempt_count END
   WHERE lock_token = p_lock_token;
  DELETE FROM instance_locks WHERE instance_id = v_instance AND lock_token = p_lock_token;
END
$$;

/*
 * renew_orchestration_item_lock: extend an unexpired instance lock (and its tagged rows) to
 * now + p_extend_ms. An unknown, released or expired token → PD001.
 */
CREATE OR REPLACE FUNCTION renew_orchestration_item_lock(
  p_lock_token text,
  p_now_ms     bigint,
  p_extend_ms  bigint
) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_instance text := lock_instance_for_token(p_lock_token, p_now_ms, true);
BEGIN
  UPDATE instance_locks SET locked_until = p_now_ms + p_extend_ms
   WHERE instance_id = v_instance AND lock_token = p_lock_token;
  UPDATE orchestrator_queue SET locked_until = p_now_ms + p_extend_ms
   WHERE lock_token = p_lock_token;
END
$$;

/*
 * read_history: the events of an instance's latest execution (MAX(execution_id) in executions,
 * 1 when there is none), by event_id. Works without an instances row. Unknown instance: no rows.
 */
CREATE OR REPLACE FUNCTION read_history(p_instance text)
RETURNS TABLE (event_id bigint, event_data text)
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT AS $$
#variable_conflict use_column
DECLARE
  v_execution bigint;
BEGIN
  SELECT COALESCE(max(e.execution_id), 1) INTO v_execution FROM executions e WHERE e.instance_id = p_instance;
  RETURN QUERY
    SELECT h.event_id, h.event_data FROM history h
     WHERE h.instance_id = p_instance AND h.execution_id = v_execution
     ORDER BY h.event_id;
END
$$;

/* read_history_with_execution: the events of one execution, by event_id. */
CREATE OR REPLACE FUNCTION read_history_with_execution(p_instance text, p_execution_id bigint)
RETURNS TABLE (event_id bigint, event_data text)
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
  SELECT h.event_id, h.event_data FROM history h
   WHERE h.instance_id = p_instance AND h.execution_id = p_execution_id
   ORDER BY h.event_id
$$;

/*
 * append_history: store events under (instance, execution) as given (a test / fault-injection
 * helper; creates no instance or execution rows). event_id 0 → PD006. An event id that already
 * exists is rejected (PD006) and nothing is written: history is append-only, never overwritten.
 */
CREATE OR REPLACE FUNCTION append_history(
  p_instance     text,
  p_execution_id bigint,
  p_event_ids    bigint[],
  p_event_types  text[],
  p_event_data   text[],
  p_now_ms       bigint
) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  PERFORM append_history_rows(p_instance, p_execution_id, p_event_ids, p_event_types, p_event_data, p_now_ms);
EXCEPTION WHEN unique_violation THEN
  RAISE EXCEPTION 'duplicate event_id for instance % execution %: history is append-only',
    p_instance, p_execution_id USING ERRCODE = 'PD006';
END
$$;
