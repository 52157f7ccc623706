/*
 * The advisory-lock key of an instance: 64 bits, in a namespace of its own (the migration runner
 * uses 'pg-durable:migrate:'). Advisory locks are database-wide, so the key includes the schema
 * (current_schema() is the function's own, pinned by SET search_path): the same instance id in
 * two schemas must not contend.
 */
CREATE OR REPLACE FUNCTION instance_lock_key(p_instance text) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT hashtextextended('pgd:instance:' || current_schema() || ':' || p_instance, 0)
$$;
