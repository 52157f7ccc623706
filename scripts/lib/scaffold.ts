/**
 * Scaffold the next migration from the sql/ tree: every function whose file differs from what the
 * migrations give (body or attributes) is emitted as its file's CREATE OR REPLACE statement, with a
 * DROP FUNCTION first when its signature changed or it left the tree. Tables, indexes and triggers
 * that differ are listed in the header for the author to write by hand (an ALTER is a decision,
 * not a copy).
 */
import { join } from "node:path";
import type pg from "pg";
import { loadMigrations, MIGRATIONS_DIR } from "../../src/migrate/migrations.ts";
import { diffSchemas, type SchemaSnapshot } from "./catalog.ts";
import { snapshotMigrated, snapshotTree } from "./snapshots.ts";
import { functionOfFile, readSqlTree, SQL_DIR } from "./sql-tree.ts";

export interface ScaffoldOptions {
  /** The migration's name, `[a-z0-9_]+`, e.g. `ack_named_fields`. */
  name: string;
  sqlDir?: string;
  migrationsDir?: string;
}

export interface Scaffold {
  /** Where the migration should be written: `<migrationsDir>/NNNN_name.sql`. */
  file: string;
  content: string;
  /** Tree files emitted whole. */
  changedFiles: string[];
  /** `name(args)` of every function dropped first. */
  dropped: string[];
  /** Objects other than functions that differ and need SQL written by hand. */
  byHand: string[];
}

export class ScaffoldError extends Error {
  override readonly name = "ScaffoldError";
}

const functionName = (signature: string) => signature.slice(0, signature.indexOf("("));

function byName(snapshot: SchemaSnapshot): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const [signature, def] of snapshot.functions) {
    const name = functionName(signature);
    out.set(name, (out.get(name) ?? new Map()).set(signature, def));
  }
  return out;
}

export async function scaffoldMigration(pool: pg.Pool, options: ScaffoldOptions): Promise<Scaffold> {
  if (!/^[a-z0-9_]+$/.test(options.name))
    throw new ScaffoldError(`migration name must be lower-case letters, digits and _: ${options.name}`);
  const sqlDir = options.sqlDir ?? SQL_DIR;
  const migrationsDir = options.migrationsDir ?? MIGRATIONS_DIR;
  const files = await readSqlTree(sqlDir);
  const tree = await snapshotTree(pool, sqlDir);
  const migrated = await snapshotMigrated(pool, migrationsDir);
  const treeFunctions = byName(tree);
  const migratedFunctions = byName(migrated);

  const changedFiles: string[] = [];
  const statements: string[] = [];
  const dropped: string[] = [];
  for (const [name, before] of migratedFunctions) {
    const after = treeFunctions.get(name) ?? new Map<string, string>();
    for (const signature of before.keys())
      if (!after.has(signature)) dropped.push(signature.replace(/^pgd\./, ""));
  }
  for (const file of files) {
    const name = functionOfFile(file);
    if (name === null) continue;
    const after = treeFunctions.get(name) ?? new Map<string, string>();
    const before = migratedFunctions.get(name) ?? new Map<string, string>();
    const differs = [...after].some(([signature, def]) => before.get(signature) !== def);
    if (!differs) continue;
    changedFiles.push(file.path);
    statements.push(`-- sql/${file.path}\n${file.sql.trimEnd()}`);
  }
  const byHand = diffSchemas("sql/", tree, "migrations/", migrated)
    .map((d) => d.split("\n")[0]!.replace(/ differs:$/, " differs"))
    .filter((d) => !d.startsWith("function ") && !d.startsWith("privileges on function "));
  if (changedFiles.length === 0 && dropped.length === 0 && byHand.length === 0)
    throw new ScaffoldError("sql/ and the migrations give the same schema: there is nothing to scaffold");

  const migrations = await loadMigrations(migrationsDir);
  const version = String((migrations.at(-1)?.version ?? 0) + 1).padStart(4, "0");
  const header = [
    `-- ${version}_${options.name}: TODO say what this migration changes and why (one paragraph, present`,
    "-- tense; the contract of each function is in its comment below).",
    "--",
    "-- Scaffolded by `npm run migration:new` from the sql/ files that differ from the migrations:",
    ...changedFiles.map((f) => `--   sql/${f}`),
    ...(dropped.length
      ? ["-- Signatures dropped first (changed or removed):", ...dropped.map((d) => `--   ${d}`)]
      : []),
    ...(byHand.length
      ? [
          "-- TODO write by hand (tables, indexes, triggers are not scaffolded); `npm run sql:check` shows",
          "-- each difference:",
          ...byHand.map((d) => `--   ${d}`),
        ]
      : []),
    "-- The runner's post-migration step (migrations/post-migration/least_privilege.sql) runs after this",
    "-- migration (SECURITY DEFINER, no PUBLIC EXECUTE), so grants need no statement here.",
  ];
  const drops = dropped.map((d) => `DROP FUNCTION ${d};`);
  const content = `${[header.join("\n"), ...(drops.length ? [drops.join("\n")] : []), ...statements].join("\n\n")}\n`;
  return {
    file: join(migrationsDir, `${version}_${options.name}.sql`),
    content,
    changedFiles,
    dropped,
    byHand,
  };
}
