/**
 * Reusable migrated schemas for tests that only use a store through its functions (the validation
 * suite). Installing the migrations costs far more than emptying the tables, so a schema released by
 * one test is truncated and handed to the next. Tests that change a schema's structure, grants or
 * migration state (least privilege, migrations, the CLI) must keep using fresh schemas
 * (createTestSchema).
 */
import pg from "pg";
import { migrate, quoteSchema } from "../migrate/migrations.ts";
import { uniqueSchemaName } from "./test-schema.ts";

export class SchemaPool {
  private readonly free: string[] = [];
  private readonly all = new Set<string>();
  /** schema → its TRUNCATE statement (the store's tables, read from the catalog once). */
  private readonly truncates = new Map<string, string>();

  constructor(
    private readonly databaseUrl: string,
    private readonly prefix: string,
  ) {}

  /** An empty, fully migrated schema: a released one if any, else a new install. */
  async acquire(): Promise<string> {
    const reused = this.free.pop();
    if (reused) return reused;
    const schema = uniqueSchemaName(this.prefix);
    await this.withPool(async (pool) => {
      this.all.add(schema);
      await migrate(pool, schema);
      const { rows } = await pool.query<{ tablename: string }>(
        "SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename <> 'schema_migrations' ORDER BY 1",
        [schema],
      );
      const tables = rows.map((row) => `${quoteSchema(schema)}.${quoteSchema(row.tablename)}`);
      this.truncates.set(schema, `TRUNCATE ${tables.join(", ")} RESTART IDENTITY`);
    });
    return schema;
  }

  /**
   * Give a schema back once nothing uses it any more (its providers closed): its tables are emptied
   * (identities restarted) so the next acquire() sees a store as fresh as a new install. A schema that
   * cannot be emptied is dropped instead of reused.
   */
  async release(pool: pg.Pool, schema: string): Promise<void> {
    const truncate = this.truncates.get(schema);
    if (!truncate) throw new Error(`schema ${schema} was not acquired from this pool`);
    try {
      await pool.query(truncate);
      this.free.push(schema);
    } catch (error) {
      this.all.delete(schema);
      await pool.query(`DROP SCHEMA IF EXISTS ${quoteSchema(schema)} CASCADE`).catch(() => undefined);
      throw error;
    }
  }

  /** Drop every schema this pool created (at the end of the test file). */
  async dispose(): Promise<void> {
    const schemas = [...this.all];
    this.all.clear();
    this.free.length = 0;
    await this.withPool(async (pool) => {
      for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS ${quoteSchema(schema)} CASCADE`);
    });
  }

  private async withPool(run: (pool: pg.Pool) => Promise<void>): Promise<void> {
    const pool = new pg.Pool({ connectionString: this.databaseUrl, max: 1 });
    try {
      await run(pool);
    } finally {
      await pool.end();
    }
  }
}
