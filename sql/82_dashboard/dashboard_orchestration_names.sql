/*
 * dashboard_orchestration_names: the distinct orchestration names of the store, sorted, at most
 * p_limit. A loose index scan over instances_name_created_idx: one index probe per name, however
 * many instances each has.
 */
CREATE OR REPLACE FUNCTION dashboard_orchestration_names(p_limit integer) RETURNS SETOF text
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
