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
CREATE OR REPLACE FUNCTION dashboard_list_instances(
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
