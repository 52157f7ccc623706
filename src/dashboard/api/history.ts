/**
 * GET /api/instances/:id/history?execution=N: one execution's events (default: the current one)
 * and its timeline spans (see ../spans.ts). A row that is not a JSON event object is returned as
 * `{type: "Undecodable"}` with the reason and the stored text, so one bad row does not hide the rest.
 *
 * A history can hold tens of thousands of events, so this answer is built for speed: each row is
 * parsed once with JSON.parse (the display needs no strict wire decoding; replay does that) and its
 * stored text is copied into the answer as `data` instead of being serialized again.
 */
import type { Event } from "../../provider/types.ts";
import type { DashboardApp, DashboardDeps } from "../deps.ts";
import { HttpError } from "../http-error.ts";
import { intParam } from "../params.ts";
import { historySpans } from "../spans.ts";

interface ParsedRow {
  eventId: number;
  /** The event, or null when the row is not a JSON object with a string `type`. */
  event: Event | null;
  text: string;
  error: string | null;
}

function parseRow(row: { event_id: number; event_data: string }): ParsedRow {
  try {
    const value = JSON.parse(row.event_data) as unknown;
    if (
      typeof value === "object" &&
      value !== null &&
      typeof (value as { type?: unknown }).type === "string"
    ) {
      return { eventId: row.event_id, event: value as Event, text: row.event_data, error: null };
    }
    return { eventId: row.event_id, event: null, text: row.event_data, error: "not an event object" };
  } catch (error) {
    return { eventId: row.event_id, event: null, text: row.event_data, error: (error as Error).message };
  }
}

/** One entry of `events`, as JSON text. */
function eventJson(row: ParsedRow): string {
  const e = row.event;
  if (e === null) {
    return JSON.stringify({
      eventId: row.eventId,
      type: "Undecodable",
      timestampMs: null,
      sourceEventId: null,
      data: { error: row.error, raw: row.text },
    });
  }
  const head = JSON.stringify({
    eventId: row.eventId,
    type: e.type,
    timestampMs: typeof e.timestamp_ms === "number" ? e.timestamp_ms : null,
    sourceEventId: typeof e.source_event_id === "number" ? e.source_event_id : null,
  });
  return `${head.slice(0, -1)},"data":${row.text}}`;
}

export function registerHistory(app: DashboardApp, deps: DashboardDeps): void {
  app.get("/api/instances/:id/history", async (c) => {
    const id = c.req.param("id");
    let executionId = intParam("execution", c.req.query("execution"), 1, Number.MAX_SAFE_INTEGER, 0);
    if (executionId === 0) {
      const info = await deps.reads.instance(id);
      if (!info) throw new HttpError(404, `instance ${JSON.stringify(id)} not found`);
      executionId = info.currentExecutionId;
    }
    const rows = (await deps.reads.historyRows(id, executionId)).map(parseRow);
    if (rows.length === 0 && !(await deps.reads.instance(id))) {
      throw new HttpError(404, `instance ${JSON.stringify(id)} not found`);
    }
    const spans = historySpans(rows.flatMap((r) => (r.event ? [r.event] : [])));
    const body = `{"executionId":${executionId},"events":[${rows.map(eventJson).join(",")}],"spans":${JSON.stringify(spans)}}`;
    return c.body(body, 200, { "content-type": "application/json; charset=utf-8" });
  });
}
