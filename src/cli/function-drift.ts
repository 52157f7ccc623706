/**
 * Drift of a schema's store functions from what this package ships. Inside one transaction that
 * is always rolled back, the packaged migrations (up to the schema's version) are applied to a
 * scratch schema, the same way the runner applies them; then both schemas' functions are read
 * from pg_proc and compared. Nothing stays behind, whatever happens.
 */
import { randomBytes } from "node:crypto";
import type pg from "pg";
import {
  ensureTrackingTable,
  loadMigrations,
  loadPostMigrationSteps,
  quoteSchema,
  stepsInEffect,
} from "../migrate/migrations.ts";

export interface ChangedFunction {
  signature: string;
  /** Which properties differ: body, result, volatility, security, strict, language, settings, search_path. */
  differences: string[];
}

export interface FunctionDrift {
  /** The packaged migrations applied to the scratch schema: 1..comparedToVersion. */
  comparedToVersion: number;
  functionCount: number;
  /** Shipped by the package, absent from the schema. */
  missing: string[];
  /** In the schema, not shipped by the package (a newer package, or added by hand). */
  extra: string[];
  changed: ChangedFunction[];
}

interface FunctionRow {
  signature: string;
  body: string;
  result: string;
  kind: string;
  volatility: string;
  security_definer: boolean;
  strict: boolean;
  language: string;
  settings: string[];
  pinned: boolean;
}

const COMPARED: [keyof FunctionRow, string][] = [
  ["body", "body"],
  ["result", "result"],
  ["kind", "kind"],
  ["volatility", "volatility"],
  ["security_definer", "security"],
  ["strict", "strict"],
  ["language", "language"],
  ["settings", "settings"],
  ["pinned", "search_path"],
];

/**
 * The functions of `schema`, read with the search_path set to it so argument and result types of
 * the schema print unqualified (the same text for the store and the scratch copy). `pinned` says
 * whether the function's search_path is pinned to its own schema, as the runner sets it; the
 * value itself names the schema, so it is compared as that flag.
 */
async function readFunctions(client: pg.ClientBase, schema: string): Promise<Map<string, FunctionRow>> {
  await client.query(`SET LOCAL search_path TO ${quoteSchema(schema)}, pg_temp`);
  const { rows } = await client.query<FunctionRow>(
    `SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS signature,
            p.prosrc AS body,
            pg_get_function_result(p.oid) AS result,
            p.prokind::text AS kind,
            p.provolatile::text AS volatility,
            p.prosecdef AS security_definer,
            p.proisstrict AS strict,
            l.lanname AS language,
            array(SELECT c FROM unnest(coalesce(p.proconfig, '{}')) AS c
                   WHERE c NOT LIKE 'search_path=%' ORDER BY c) AS settings,
            coalesce(p.proconfig, '{}') @> ARRAY['search_path=' || quote_ident($1) || ', pg_temp'] AS pinned
       FROM pg_proc p
       JOIN pg_namespace n ON n.oid = p.pronamespace
       JOIN pg_language l ON l.oid = p.prolang
      WHERE n.nspname = $1
        AND NOT EXISTS (SELECT 1 FROM pg_depend d
                         WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')`,
    [schema],
  );
  return new Map(rows.map((r) => [r.signature, r]));
}

function differences(actual: FunctionRow, expected: FunctionRow): string[] {
  return COMPARED.filter(([key]) => JSON.stringify(actual[key]) !== JSON.stringify(expected[key])).map(
    ([, label]) => label,
  );
}

/**
 * Compare `schema`'s functions with those of migrations 1..`toVersion` applied to a scratch
 * schema. Needs CREATE on the database (for the scratch schema, rolled back).
 */
export async function compareFunctions(
  pool: pg.Pool,
  schema: string,
  toVersion: number,
): Promise<FunctionDrift> {
  const all = await loadMigrations();
  const steps = await loadPostMigrationSteps();
  const migrations = all.filter((m) => m.version <= toVersion);
  const scratch = `pgd_doctor_${randomBytes(6).toString("hex")}`;
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    // The runner creates the tracking table before the first migration; later ones may use it.
    await ensureTrackingTable(client, quoteSchema(scratch));
    await client.query(`SET LOCAL search_path TO ${quoteSchema(scratch)}, pg_temp`);
    // As the runner does: the post-migration steps in effect after every migration, and at the end.
    for (const m of migrations) {
      await client.query(m.sql);
      for (const step of stepsInEffect(steps, m.version)) await client.query(step.sql);
    }
    for (const step of stepsInEffect(steps, toVersion)) await client.query(step.sql);
    const expected = await readFunctions(client, scratch);
    const actual = await readFunctions(client, schema);
    const changed: ChangedFunction[] = [];
    for (const [signature, row] of expected) {
      const mine = actual.get(signature);
      if (!mine) continue;
      const diff = differences(mine, row);
      if (diff.length > 0) changed.push({ signature, differences: diff });
    }
    return {
      comparedToVersion: toVersion,
      functionCount: expected.size,
      missing: [...expected.keys()].filter((s) => !actual.has(s)).sort(),
      extra: [...actual.keys()].filter((s) => !expected.has(s)).sort(),
      changed: changed.sort((a, b) => a.signature.localeCompare(b.signature)),
    };
  } finally {
    await client.query("ROLLBACK").catch(() => {});
    client.release();
  }
}
