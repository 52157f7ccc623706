/**
 * ProviderError and the SQLSTATE-based classification of database errors (contract §4).
 *
 * Retryable: the same call may succeed later (deadlock, serialization failure, lost connection,
 * server shutting down, cached plan invalidated by a concurrent migration, pool timeouts).
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
const RETRYABLE_SQLSTATES = new Set(["0A000", "55P03", "55006"]); // cached plan changed, lock not available, object in use

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
  if (typeof code === "string") {
    if (code.length === 5) {
      return RETRYABLE_SQLSTATES.has(code) || RETRYABLE_SQLSTATE_CLASSES.includes(code.slice(0, 2));
    }
    if (RETRYABLE_NODE_CODES.has(code)) return true;
  }
  const message = (error as { message?: unknown }).message;
  return typeof message === "string" && RETRYABLE_MESSAGES.some((m) => message.includes(m));
}

/** Wrap any error thrown while running `operation` into a classified ProviderError. */
export function toProviderError(operation: string, error: unknown): ProviderError {
  if (error instanceof ProviderError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ProviderError(operation, message, isRetryableDatabaseError(error), { cause: error });
}
