/**
 * Applied versus packaged migrations of one schema, with checksums: which are applied, pending,
 * edited since they were applied, or applied but unknown to this package (the schema is ahead).
 */
import type pg from "pg";
import { loadMigrations, quoteSchema } from "../migrate/migrations.ts";

export type MigrationState = "applied" | "pending" | "edited" | "unknown";

export interface MigrationRow {
  version: number;
  name: string;
  state: MigrationState;
  appliedAt: string | null;
  /** SHA-256 of the file this package ships; null for an unknown migration. */
  packagedChecksum: string | null;
  /** SHA-256 recorded when it was applied; null when pending. */
  appliedChecksum: string | null;
}

export interface SchemaMigrations {
  /** Whether the schema has a schema_migrations table at all. */
  tracked: boolean;
  rows: MigrationRow[];
  lastPackaged: number;
}

/** Reads schema_migrations, so it needs SELECT on it (the schema's owner has it; a runtime role not). */
export async function readSchemaMigrations(pool: pg.Pool, schema: string): Promise<SchemaMigrations> {
  const quoted = quoteSchema(schema);
  const packaged = await loadMigrations();
  const exists = await pool.query<{ ok: boolean }>("SELECT to_regclass($1) IS NOT NULL AS ok", [
    `${quoted}.schema_migrations`,
  ]);
  const tracked = exists.rows[0]?.ok === true;
  const applied = new Map<number, { name: string; checksum: string; applied_at: Date }>();
  if (tracked) {
    const { rows } = await pool.query<{ version: number; name: string; checksum: string; applied_at: Date }>(
      `SELECT version, name, checksum, applied_at FROM ${quoted}.schema_migrations ORDER BY version`,
    );
    for (const row of rows) applied.set(row.version, row);
  }
  const rows: MigrationRow[] = packaged.map((m) => {
    const row = applied.get(m.version);
    return {
      version: m.version,
      name: m.name,
      state: !row ? "pending" : row.checksum === m.checksum ? "applied" : "edited",
      appliedAt: row?.applied_at.toISOString() ?? null,
      packagedChecksum: m.checksum,
      appliedChecksum: row?.checksum ?? null,
    };
  });
  const known = new Set(packaged.map((m) => m.version));
  for (const [version, row] of applied) {
    if (known.has(version)) continue;
    rows.push({
      version,
      name: row.name,
      state: "unknown",
      appliedAt: row.applied_at.toISOString(),
      packagedChecksum: null,
      appliedChecksum: row.checksum,
    });
  }
  rows.sort((a, b) => a.version - b.version);
  return { tracked, rows, lastPackaged: Math.max(0, ...packaged.map((m) => m.version)) };
}

export function migrationLabel(version: number, name: string): string {
  return `${String(version).padStart(4, "0")}_${name}`;
}

/** The warning for migrations applied to the schema that this package does not ship, or null. */
export function aheadWarning(schema: string, rows: readonly MigrationRow[]): string | null {
  const unknown = rows.filter((r) => r.state === "unknown");
  if (unknown.length === 0) return null;
  return (
    `schema "${schema}" is ahead of this package: it has ${unknown.map((r) => migrationLabel(r.version, r.name)).join(", ")} ` +
    "applied, which this version of pg-durable does not ship; upgrade pg-durable before running it on this schema"
  );
}
