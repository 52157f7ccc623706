/**
 * Payload encoding at the SDK boundary.
 *
 * Inputs, results, event data and queue data cross the store as JSON text. Encoding happens at the
 * call site so a value that cannot round-trip (a function, a BigInt, a cycle, a Map…) is refused
 * synchronously where the user wrote it, instead of failing a turn later. Decoding falls back to
 * the raw string for payloads written by other tools that are not JSON.
 */
import { checkPayloadSize, DEFAULT_LIMITS, LimitError, type PayloadLimits } from "./limits.ts";

/** Thrown synchronously by any API that is handed a value JSON cannot represent faithfully. */
export class PayloadError extends TypeError {
  override readonly name = "PayloadError";
}

/**
 * JSON.stringify(value ?? null) after checking the value survives the round trip and is nested no
 * deeper than maxJsonDepth. With `limits` (the client, activity results) the encoded size is
 * checked too; without (orchestration code) the runtime checks sizes on the whole turn before its
 * ack, against its own configured limits, and the depth is the default one.
 */
export function toJson(value: unknown, what: string, limits?: PayloadLimits): string {
  checkSerialisable(value, what, (limits ?? DEFAULT_LIMITS).maxJsonDepth);
  let text: string;
  try {
    text = JSON.stringify(value ?? null);
  } catch (error) {
    throw new PayloadError(`${what} is not JSON-serialisable: ${(error as Error).message}`);
  }
  if (limits) checkPayloadSize(text, what, limits);
  return text;
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

/** A container still to visit: its path and depth. */
interface Pending {
  value: unknown;
  path: string;
  depth: number;
}

/**
 * Walk the value with an explicit stack (never recursion: a deep value must get this error, not
 * `RangeError: Maximum call stack size exceeded`). A cycle is an object met again on the way down
 * from the root; `ancestors` holds the current path's objects, popped by a marker on the stack.
 */
function checkSerialisable(root: unknown, what: string, maxDepth: number): void {
  const fail = (path: string, problem: string) =>
    new PayloadError(`${what} is not JSON-serialisable: ${path} ${problem}`);
  const ancestors = new Set<object>();
  const stack: (Pending | { leave: object })[] = [{ value: root, path: "$", depth: 0 }];
  while (stack.length > 0) {
    const top = stack.pop() as Pending | { leave: object };
    if ("leave" in top) {
      ancestors.delete(top.leave);
      continue;
    }
    const { value, path, depth } = top;
    switch (typeof value) {
      case "string":
      case "boolean":
      case "undefined":
        continue;
      case "number":
        if (!Number.isFinite(value)) throw fail(path, `is ${value}`);
        continue;
      case "bigint":
        throw fail(path, "is a BigInt (convert it to a string)");
      case "function":
      case "symbol":
        throw fail(path, `is a ${typeof value}`);
    }
    if (value === null) continue;
    const object = value as object;
    if (typeof (object as { toJSON?: unknown }).toJSON === "function") continue; // Date and friends
    if (
      object instanceof Map ||
      object instanceof Set ||
      object instanceof WeakMap ||
      object instanceof WeakSet
    ) {
      throw fail(path, `is a ${object.constructor.name} (convert it to an array or object)`);
    }
    if (object instanceof Promise) throw fail(path, "is a Promise (did you forget an await?)");
    if (ancestors.has(object)) throw fail(path, "is a circular reference");
    if (depth >= maxDepth) {
      throw new LimitError(
        `${what} is nested deeper than the limit maxJsonDepth = ${maxDepth} levels (at ${path.length > 200 ? `${path.slice(0, 200)}…` : path})`,
      );
    }
    ancestors.add(object);
    stack.push({ leave: object });
    // Pushed in reverse so the first bad child is reported first, like a recursive walk would.
    if (Array.isArray(object)) {
      for (let i = object.length - 1; i >= 0; i--)
        stack.push({ value: object[i], path: `${path}[${i}]`, depth: depth + 1 });
    } else {
      const entries = Object.entries(object);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, item] = entries[i] as [string, unknown];
        // undefined properties are dropped by JSON, like functions in arrays are not: only check values.
        if (item !== undefined) stack.push({ value: item, path: `${path}.${key}`, depth: depth + 1 });
      }
    }
  }
}
