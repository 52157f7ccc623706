/**
 * ProviderError and the SQLSTATE-based classification of database errors (docs/store-contract.md §3).
 *
 * Retryable: the same call may succeed later (deadlock, serialization failure, lost connection,
 * server shutting down, a function replaced under a prepared statement by a concurrent migration,
 * pool timeouts).
 * Permanent: retrying cannot help (bad lock token, duplicate event id, malformed input).
 */
export class ProviderError extends Error {
  override readonly name = "ProviderError";

  constructor(
    readonly operation: string,
    readonly detail: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(`${operation}: ${detail}`, options);
  }

  static retryable(operation: string, message: string, cause?: unknown): ProviderError {
    return new ProviderError(operation, message, true, { cause });
  }

  static permanent(operation: string, message: string, cause?: unknown): ProviderError {
    return new ProviderError(operation, message, false, { cause });
  }

  isRetryable(): boolean {
    return this.retryable;
  }
}

/** SQLSTATE classes/codes whose failure is transient. */
const RETRYABLE_SQLSTATE_CLASSES = ["08", "40", "53", "57"]; // connection, txn rollback, resources, operator intervention
const RETRYABLE_SQLSTATES = new Set(["55P03", "55006"]); // lock not available, object in use

/**
 * "cached plan must not change result type" (0A000): a migration changed the result type of the
 * function under a prepared statement. Postgres raises it before running anything, and raises it
 * again on every use of that statement on that connection (see sql.ts for the way out). Other
 * 0A000 errors (feature not supported) are bugs and stay permanent. Matched on `routine` because
 * the message is translated under a non-English lc_messages.
 */
export function isStalePlanError(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { code, routine, message } = error as { code?: unknown; routine?: unknown; message?: unknown };
  return (
    code === "0A000" &&
    (routine === "RevalidateCachedQuery" ||
      (typeof message === "string" && message.includes("cached plan must not change result type")))
  );
}

/**
 * "cache lookup failed for function N" (XX000): a name resolved to a function that a concurrent
 * migration dropped (DROP + CREATE in one transaction) before its catalog row was read. Rare, but
 * seen on PG 15 and 18 under load; the next call finds the new function. Each call is one
 * autocommit statement, so the failed one changed nothing. Internal (elog) messages are never
 * translated, so the text is a safe match.
 */
function isCatalogRace(code: unknown, message: unknown): boolean {
  return code === "XX000" && typeof message === "string" && message.startsWith("cache lookup failed");
}

/** Node-level error codes of a broken socket. */
const RETRYABLE_NODE_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/** Messages pg and pg-pool produce when the connection or pool fails without a SQLSTATE. */
const RETRYABLE_MESSAGES = [
  "Connection terminated",
  "connection timeout",
  "timeout exceeded when trying to connect",
  "Client has encountered a connection error",
  "Connection ended unexpectedly",
  "Client was closed and is not queryable",
  "terminating connection",
];

/** Whether a raw error from `pg` is worth retrying. */
export function isRetryableDatabaseError(error: unknown): boolean {
  if (error instanceof ProviderError) return error.retryable;
  if (typeof error !== "object" || error === null) return true; // a plain string error: conservative default
  const code = (error as { code?: unknown }).code;
  const message = (error as { message?: unknown }).message;
  if (isStalePlanError(error) || isCatalogRace(code, message)) return true;
  if (typeof code === "string") {
    if (code.length === 5) {
      return RETRYABLE_SQLSTATES.has(code) || RETRYABLE_SQLSTATE_CLASSES.includes(code.slice(0, 2));
    }
    if (RETRYABLE_NODE_CODES.has(code)) return true;
  }
  return typeof message === "string" && RETRYABLE_MESSAGES.some((m) => message.includes(m));
}

/** Wrap any error thrown while running `operation` into a classified ProviderError. */
export function toProviderError(operation: string, error: unknown): ProviderError {
  if (error instanceof ProviderError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ProviderError(operation, message, isRetryableDatabaseError(error), { cause: error });
}
