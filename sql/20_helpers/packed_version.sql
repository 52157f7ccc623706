/*
 * The packed form of a version; NULL when there is no pin (NULL NOT BETWEEN … is NULL, i.e. not
 * excluded). Plain SQL without SET so the planner inlines it.
 */
CREATE OR REPLACE FUNCTION packed_version(p_major integer, p_minor integer, p_patch integer) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
  SELECT p_major::bigint * 1000000 + p_minor::bigint * 1000 + p_patch::bigint
$$;
