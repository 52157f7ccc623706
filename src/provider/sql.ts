/**
 * How the provider talks to its PL/pgSQL functions: one `SELECT * FROM "schema".fn($1, …)` per
 * call, as an UNNAMED statement (parse, bind and execute in one round trip), with errors
 * classified into ProviderError.
 *
 * Why unnamed: a named prepared statement lives in the server session, and behind a pooler in
 * transaction mode (PgBouncer's pool_mode=transaction) the client's next call may run on another
 * server connection that has it already, or has not: `42P05 prepared statement … already exists`
 * or `26000 … does not exist`. Unnamed statements end with their call, so the store works given
 * nothing but a pooler URL. What naming would save is the parse and plan of a one-line SELECT of a
 * function call (the functions' own plans are cached by PL/pgSQL either way); measured on the hot
 * path (scripts/bench-statements.ts: enqueue, fetch, ack and read loops on a direct connection,
 * alternating A/B rounds; figures in docs/pgbouncer.md) the difference stayed within the
 * round-to-round noise, so there is no detection of the connection kind and no option. A bonus: a migration that changes a function's
 * result type no longer leaves stale cached plans behind ("cached plan must not change result
 * type" on every pooled connection), since nothing is cached between calls.
 */
import pg from "pg";
import { quoteSchema } from "../migrate/migrations.ts";
import { textColumnProblem } from "./codec.ts";
import { ProviderError, toProviderError } from "./errors.ts";

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

  constructor(
    readonly pool: pg.Pool,
    readonly schema: string,
    /** The caller's clock; every function gets `p_now_ms` from here, never from the database. */
    readonly now: () => number = Date.now,
  ) {
    this.quotedSchema = quoteSchema(schema);
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
    const name = this.statementName(fn, args.length);
    const query: pg.QueryConfig = {
      ...(name === undefined ? {} : { name }),
      text: `SELECT * FROM ${this.qualified(fn)}(${placeholders})`,
      values: args as unknown[],
      types: numericTypes,
    };
    try {
      const result = await this.pool.query<Row>(query);
      return result.rows;
    } catch (error) {
      throw toProviderError(operation, error);
    }
  }

  /**
   * The prepared statement name for `fn`: none (see the module comment). A seam for
   * scripts/bench-statements.ts, which names them to measure what naming would save.
   */
  protected statementName(_fn: string, _arity: number): string | undefined {
    return undefined;
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
