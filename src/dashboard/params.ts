/**
 * Query-string and body parsers for the dashboard API: each turns a bad value into a 400 that
 * names the parameter and what it accepts.
 */
import { HttpError } from "./http-error.ts";

/** An integer in [min, max], or `fallback` when absent. */
export function intParam(
  name: string,
  raw: string | undefined,
  min: number,
  max: number,
  fallback: number,
): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new HttpError(400, `${name} must be an integer from ${min} to ${max} (got "${raw}")`);
  }
  return n;
}

/** A time as epoch milliseconds (digits) or an ISO 8601 date/time; null when absent. */
export function timeParam(name: string, raw: string | undefined): number | null {
  if (raw === undefined || raw === "") return null;
  if (/^\d+$/.test(raw)) {
    const n = Number(raw);
    if (Number.isSafeInteger(n)) return n;
  } else if (/^\d{4}-\d{2}-\d{2}/.test(raw)) {
    const ms = Date.parse(raw);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new HttpError(400, `${name} must be epoch milliseconds or an ISO 8601 time (got "${raw}")`);
}

/** One of `allowed`, or `fallback` when absent. */
export function enumParam<T extends string>(
  name: string,
  raw: string | undefined,
  allowed: readonly T[],
  fallback: T,
): T {
  if (raw === undefined || raw === "") return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new HttpError(400, `${name} must be one of ${allowed.join(", ")} (got "${raw}")`);
  }
  return raw as T;
}

/** A non-empty string, or null when absent; longer than `maxLength` is refused. */
export function textParam(name: string, raw: string | undefined, maxLength = 1024): string | null {
  if (raw === undefined || raw === "") return null;
  if (raw.length > maxLength) throw new HttpError(400, `${name} is longer than ${maxLength} characters`);
  return raw;
}

/** The request body as a JSON object ({} when empty); 400 when it is not one. */
export async function jsonBody(request: Request): Promise<Record<string, unknown>> {
  const text = await request.text();
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HttpError(400, "the request body must be JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HttpError(400, "the request body must be a JSON object");
  }
  return value as Record<string, unknown>;
}

/** An optional non-negative integer field of a JSON body (null when absent or null). */
export function optionalIntField(body: Record<string, unknown>, name: string, min: number): number | null {
  const value = body[name];
  if (value === undefined || value === null) return null;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new HttpError(400, `${name} must be an integer >= ${min}`);
  }
  return value;
}
