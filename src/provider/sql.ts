/**
 * How the provider talks to its PL/pgSQL functions: one `SELECT * FROM "schema".fn($1, …)` per
 * call, with errors classified into ProviderError.
 *
 * Named prepared statements first: each connection parses and plans a call once. Measured on the
 * ceiling workload (4/4 dispatchers, 50 in flight, 0 ms activities, shared PostgreSQL 15, runs
 * alternating), named statements completed 80.6-84.7 orch/s against 56-73 for unnamed ones.
 *
 * Behind a pooler in transaction mode (PgBouncer's pool_mode=transaction) a named statement does
 * not survive its transaction: the next call may run on another server connection that has it
 * already (`42P05`) or has not (`26000`). Both are raised before anything runs, so the first such
 * error switches this provider to unnamed statements for good and the call is sent again: the
 * store works given nothing but a pooler URL, with no option to set.
 *
 * A migration that changes a function's result type makes every connection's prepared statement
 * fail with 0A000 until it is deallocated; the statement is then renamed (see call()). A parameter
 * list of another length gets another name (the name carries the arity); the ack takes its turn as
 * one named document (turn-document.ts), so a new field leaves its signature alone.
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

/** The server refused a named statement because a pooler moved the call to another connection. */
function isPooledStatementError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "26000" || code === "42P05";
}

export interface CallOptions {
  /**
   * Every string argument was already checked for its text column by the caller's encoder (the
   * acks: turn-document.ts, worker-queue.ts), the one validation point; skip the backstop, which
   * would scan each payload a second time.
   */
  validated?: boolean;
}

export class SqlFunctions {
  readonly quotedSchema: string;
  private readonly statementPrefix: string;
  /** False once a pooler in transaction mode has been detected (see the module comment). */
  private named = true;
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

  /** Whether calls use named prepared statements (false behind a transaction-mode pooler). */
  get usesNamedStatements(): boolean {
    return this.named;
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
    options: CallOptions = {},
  ): Promise<Row[]> {
    // Backstop for callers that did not check their ids (admin methods among them): a NUL would
    // fail inside Postgres with an encoding error, and a lone surrogate would silently become
    // U+FFFD and address another instance.
    if (!options.validated) {
      args.forEach((arg, i) => {
        const problem = typeof arg === "string" ? textColumnProblem(arg) : null;
        if (problem) throw ProviderError.permanent(operation, `argument ${i + 1} ${problem}`);
      });
    }
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
      if (name !== undefined && isPooledStatementError(error)) {
        // Nothing ran: switch to unnamed statements and send the call again.
        this.named = false;
        return await this.call<Row>(operation, fn, args, options);
      }
      // A migration changed fn's result type: every pooled connection that prepared this
      // statement fails it (before running anything) until it is deallocated. A new name makes
      // each connection prepare afresh, so the caller's retry succeeds. Concurrent failures on the
      // same name rename once.
      const renames = this.renames.get(fn) ?? 0;
      if (name !== undefined && isStalePlanError(error) && name === this.statementName(fn, args.length))
        this.renames.set(fn, renames + 1);
      throw toProviderError(operation, error);
    }
  }

  /**
   * The prepared statement name for `fn`, or undefined for an unnamed statement. A seam for
   * scripts/bench-statements.ts, which compares the two.
   */
  protected statementName(fn: string, arity: number): string | undefined {
    if (!this.named) return undefined;
    const renames = this.renames.get(fn) ?? 0;
    return `pgd_${this.statementPrefix}_${fn}_${arity}${renames > 0 ? `_r${renames}` : ""}`;
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
