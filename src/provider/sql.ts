/**
 * How the provider talks to its PL/pgSQL functions: one `SELECT * FROM "schema".fn($1, …)` per
 * call, as a named prepared statement, with errors classified into ProviderError.
 */
import { createHash } from "node:crypto";
import pg from "pg";
import { quoteSchema } from "../migrate/migrations.ts";
import { textColumnProblem } from "./codec.ts";
import { isStalePlanError, ProviderError, toProviderError } from "./errors.ts";

/**
 * bigint (int8) columns come back as JS numbers: ids, attempt counts and epoch-ms times all stay
 * far below 2^53. Applied per query so a pool the caller shares with other code is left alone.
 */
const parseInt8Array = pg.types.getTypeParser(1016 as Parameters<typeof pg.types.getTypeParser>[0]);
export const numericTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => {
    if (oid === 20) return (value: string) => Number(value);
    if (oid === 1016) return (value: string) => (parseInt8Array(value) as string[]).map(Number);
    return pg.types.getTypeParser(oid, format as "text");
  }) as pg.CustomTypesConfig["getTypeParser"],
};

export class SqlFunctions {
  readonly quotedSchema: string;
  private readonly statementPrefix: string;
  /** Per function: how often its statement was renamed because a migration made it stale. */
  private readonly renames = new Map<string, number>();

  constructor(
    readonly pool: pg.Pool,
    readonly schema: string,
    /** The caller's clock; every function gets `p_now_ms` from here, never from the database. */
    readonly now: () => number = Date.now,
  ) {
    this.quotedSchema = quoteSchema(schema);
    this.statementPrefix = createHash("sha1").update(schema).digest("hex").slice(0, 10);
  }

  /** Schema-qualified, quoted function name. */
  qualified(fn: string): string {
    return `${this.quotedSchema}.${fn}`;
  }

  /**
   * Call `fn(args…)` and return its rows. `operation` names the provider method for errors.
   * `fn` is one of our own function names (a constant), never user input.
   */
  async call<Row extends pg.QueryResultRow = pg.QueryResultRow>(
    operation: string,
    fn: string,
    args: readonly unknown[],
  ): Promise<Row[]> {
    // Backstop for callers that did not check their ids (admin methods among them): a NUL would
    // fail inside Postgres with an encoding error, and a lone surrogate would silently become
    // U+FFFD and address another instance.
    args.forEach((arg, i) => {
      const problem = typeof arg === "string" ? textColumnProblem(arg) : null;
      if (problem) throw ProviderError.permanent(operation, `argument ${i + 1} ${problem}`);
    });
    const placeholders = args.map((_, i) => `$${i + 1}`).join(", ");
    const renames = this.renames.get(fn) ?? 0;
    const query: pg.QueryConfig = {
      name: `pgd_${this.statementPrefix}_${fn}_${args.length}${renames > 0 ? `_r${renames}` : ""}`,
      text: `SELECT * FROM ${this.qualified(fn)}(${placeholders})`,
      values: args as unknown[],
      types: numericTypes,
    };
    try {
      const result = await this.pool.query<Row>(query);
      return result.rows;
    } catch (error) {
      // A migration changed fn's result type. Every pooled connection that prepared this statement
      // now fails it (0A000, before running anything) until it is deallocated: retried as is, the
      // caller would meet one stale connection after another. pg-pool drops the connection that
      // failed; a new name makes the others prepare afresh, so the retry succeeds. The old
      // statements stay unused until their connections close. Calls that failed concurrently on
      // the same name rename once.
      if (isStalePlanError(error) && (this.renames.get(fn) ?? 0) === renames)
        this.renames.set(fn, renames + 1);
      throw toProviderError(operation, error);
    }
  }

  /** Call a function returning one row (or none). */
  async callOne<Row extends pg.QueryResultRow = pg.QueryResultRow>(
    operation: string,
    fn: string,
    args: readonly unknown[],
  ): Promise<Row | undefined> {
    const rows = await this.call<Row>(operation, fn, args);
    return rows[0];
  }
}
