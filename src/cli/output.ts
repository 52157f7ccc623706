/**
 * Output for people (tables) and for scripts (JSON with stable camelCase field names, times as
 * ISO 8601 strings).
 */
import Table from "cli-table3";
import type { CliIo } from "./io.ts";

type Cell = string | number | boolean | null | undefined;

/** Plain tables: no colours, so output piped to a file or a test stays clean. */
export function renderTable(head: string[], rows: Cell[][]): string {
  const table = new Table({ head, style: { head: [], border: [] } });
  for (const row of rows)
    table.push(row.map((cell) => (cell === null || cell === undefined ? "" : String(cell))));
  return table.toString();
}

/** A two-column "field | value" table for one record. */
export function renderRecord(fields: [string, Cell][]): string {
  const table = new Table({ style: { head: [], border: [] } });
  for (const [name, value] of fields) {
    table.push({ [name]: value === null || value === undefined ? "" : String(value) });
  }
  return table.toString();
}

export function printJson(io: CliIo, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}

export function isoTime(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}

/** Shorten a long value for a table cell (the JSON output always has it whole). */
export function clip(text: string | null | undefined, max = 60): string {
  if (text === null || text === undefined) return "";
  const flat = text.replace(/\s+/g, " ");
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
