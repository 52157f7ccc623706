/**
 * Errors a dashboard handler ends a request with, and how any error becomes the API's
 * `{error: string}` answer with a status code (docs/dashboard.md, "API").
 */
import { ProviderError } from "../provider/errors.ts";

/** A request the handler refuses, with the status and message the client gets. */
export class HttpError extends Error {
  override readonly name = "HttpError";
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413,
    message: string,
  ) {
    super(message);
  }
}

/** The SQLSTATE a provider error carries from the database, if any. */
function sqlState(error: ProviderError): string | undefined {
  const code = (error.cause as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * The status and message of any error a handler threw. The store's own refusals (PD002 unknown
 * instance, PD003 and the other PD codes: the operation does not apply to the instance's state) and
 * the client's argument checks (TypeError, RangeError: bad name, payload over its limit) are the
 * caller's to fix; anything else is the server's (500).
 */
export function errorAnswer(error: unknown): {
  status: 400 | 401 | 403 | 404 | 409 | 413 | 500;
  message: string;
} {
  if (error instanceof HttpError) return { status: error.status, message: error.message };
  if (error instanceof ProviderError && !error.retryable) {
    const code = sqlState(error);
    if (code === "PD002") return { status: 404, message: error.detail };
    if (code?.startsWith("PD")) return { status: 409, message: error.detail };
  }
  if (error instanceof TypeError || error instanceof RangeError)
    return { status: 400, message: error.message };
  return { status: 500, message: error instanceof Error ? error.message : String(error) };
}
