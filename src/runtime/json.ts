/**
 * Payload encoding at the SDK boundary.
 *
 * Inputs, results, event data and queue data cross the store as JSON text. Encoding happens at the
 * call site so a value that cannot round-trip (a function, a BigInt, a cycle, a Map…) is refused
 * synchronously where the user wrote it, instead of failing a turn later. Decoding falls back to
 * the raw string for payloads written by other tools that are not JSON.
 */

/** Thrown synchronously by any API that is handed a value JSON cannot represent faithfully. */
export class PayloadError extends TypeError {
  override readonly name = "PayloadError";
}

/** JSON.stringify(value ?? null) after checking the value survives the round trip. */
export function toJson(value: unknown, what: string): string {
  checkSerialisable(value, what, "$", new Set());
  try {
    return JSON.stringify(value ?? null);
  } catch (error) {
    throw new PayloadError(`${what} is not JSON-serialisable: ${(error as Error).message}`);
  }
}

/** JSON.parse with a raw-string fallback; "" decodes to undefined (an absent input). */
export function fromJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function checkSerialisable(value: unknown, what: string, path: string, seen: Set<object>): void {
  switch (typeof value) {
    case "string":
    case "boolean":
    case "undefined":
      return;
    case "number":
      if (!Number.isFinite(value))
        throw new PayloadError(`${what} is not JSON-serialisable: ${path} is ${value}`);
      return;
    case "bigint":
      throw new PayloadError(
        `${what} is not JSON-serialisable: ${path} is a BigInt (convert it to a string)`,
      );
    case "function":
    case "symbol":
      throw new PayloadError(`${what} is not JSON-serialisable: ${path} is a ${typeof value}`);
  }
  if (value === null) return;
  const object = value as object;
  if (typeof (object as { toJSON?: unknown }).toJSON === "function") return; // Date and friends
  if (
    object instanceof Map ||
    object instanceof Set ||
    object instanceof WeakMap ||
    object instanceof WeakSet
  ) {
    throw new PayloadError(
      `${what} is not JSON-serialisable: ${path} is a ${object.constructor.name} (convert it to an array or object)`,
    );
  }
  if (object instanceof Promise) {
    throw new PayloadError(
      `${what} is not JSON-serialisable: ${path} is a Promise (did you forget an await?)`,
    );
  }
  if (seen.has(object))
    throw new PayloadError(`${what} is not JSON-serialisable: ${path} is a circular reference`);
  seen.add(object);
  if (Array.isArray(object)) {
    object.forEach((item, i) => {
      checkSerialisable(item, what, `${path}[${i}]`, seen);
    });
  } else {
    for (const [key, item] of Object.entries(object)) {
      // undefined properties are dropped by JSON, like functions in arrays are not: only check values.
      if (item !== undefined) checkSerialisable(item, what, `${path}.${key}`, seen);
    }
  }
  seen.delete(object);
}
