/*
 * dashboard_instance_tree: the family of an instance for the dashboard: its root ancestor (the
 * highest one still stored, at most 100 levels up) and the root's descendants breadth first, at
 * most p_max_nodes of them and 100 levels deep (both bounds also stop a parent cycle in hostile
 * data), each with its parent, orchestration name and status. No rows when the instance is unknown.
 */
CREATE OR REPLACE FUNCTION dashboard_instance_tree(p_instance text, p_max_nodes integer)
RETURNS TABLE (
  instance_id        text,
  parent_instance_id text,
  orchestration_name text,
  status             text,
  depth              integer
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  WITH RECURSIVE up(instance_id, parent_instance_id, hops) AS (
    SELECT i.instance_id, i.parent_instance_id, 0 FROM instances i WHERE i.instance_id = p_instance
    UNION ALL
    SELECT i.instance_id, i.parent_instance_id, u.hops + 1
      FROM instances i JOIN up u ON i.instance_id = u.parent_instance_id
     WHERE u.hops < 100
  ),
  root AS (SELECT u.instance_id FROM up u ORDER BY u.hops DESC LIMIT 1),
  down(instance_id, depth) AS (
    SELECT r.instance_id, 0 FROM root r
    UNION ALL
    SELECT c.instance_id, d.depth + 1
      FROM instances c JOIN down d ON c.parent_instance_id = d.instance_id
     WHERE d.depth < 100
  ),
  family AS (SELECT d.instance_id, d.depth FROM down d LIMIT p_max_nodes)
  SELECT f.instance_id, i.parent_instance_id, i.orchestration_name, COALESCE(e.status, 'Running'), f.depth
    FROM family f
    JOIN instances i ON i.instance_id = f.instance_id
    LEFT JOIN executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id
   ORDER BY f.depth, f.instance_id
$$;
