/* get_instance_tree: the instance and every descendant, root first (unknown/leaf: just itself). */
CREATE OR REPLACE FUNCTION get_instance_tree(p_instance text) RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  WITH RECURSIVE tree(instance_id, depth) AS (
    SELECT p_instance, 0
    UNION
    SELECT i.instance_id, t.depth + 1 FROM instances i JOIN tree t ON i.parent_instance_id = t.instance_id
  )
  SELECT instance_id FROM tree ORDER BY depth, instance_id
$$;
