/**
 * The instance list's paging cursor: the last row's sort key (sort time and instance id) and the
 * sort it belongs to, as opaque base64url JSON. A cursor from another sort is refused rather than
 * silently giving a wrong page.
 */
import { HttpError } from "./http-error.ts";

export type InstanceSort = "created_desc" | "created_asc" | "updated_desc";
export const INSTANCE_SORTS: readonly InstanceSort[] = ["created_desc", "created_asc", "updated_desc"];

export interface PageKey {
  sort: InstanceSort;
  afterMs: number;
  afterId: string;
}

export function encodeCursor(key: PageKey): string {
  return Buffer.from(JSON.stringify([key.sort, key.afterMs, key.afterId]), "utf8").toString("base64url");
}

export function decodeCursor(raw: string, sort: InstanceSort): PageKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, "base64url").toString("utf8"));
  } catch {
    parsed = null;
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 3 ||
    !INSTANCE_SORTS.includes(parsed[0]) ||
    !Number.isSafeInteger(parsed[1]) ||
    typeof parsed[2] !== "string"
  ) {
    throw new HttpError(400, "cursor is not one this dashboard gave out (start again from the first page)");
  }
  if (parsed[0] !== sort) {
    throw new HttpError(
      400,
      `cursor belongs to sort=${parsed[0]}, not sort=${sort}: start again from the first page`,
    );
  }
  return { sort, afterMs: parsed[1], afterId: parsed[2] };
}
