/**
 * GET /api/instances: one keyset page of the instance list, filtered and sorted
 * (docs/dashboard.md, "API"); GET /api/orchestration-names: the names for the filter.
 */
import { decodeCursor, encodeCursor, INSTANCE_SORTS, type InstanceSort } from "../cursor.ts";
import type { DashboardApp, DashboardDeps } from "../deps.ts";
import { HttpError } from "../http-error.ts";
import { enumParam, intParam, textParam, timeParam } from "../params.ts";
import type { InstanceFilters } from "../reads.ts";

export const INSTANCE_STATUSES = ["Running", "Completed", "Failed", "ContinuedAsNew"] as const;
/** The total is counted up to this many matches; beyond it the answer is null and totalCapped true. */
export const COUNT_CAP = 10_000;

export function registerInstances(app: DashboardApp, deps: DashboardDeps): void {
  app.get("/api/instances", async (c) => {
    const q = (name: string) => c.req.query(name);
    const sort: InstanceSort = enumParam("sort", q("sort"), INSTANCE_SORTS, "created_desc");
    const limit = intParam("limit", q("limit"), 1, 500, 50);
    const search = textParam("q", q("q"), 200);
    const qMode = enumParam("qMode", q("qMode"), ["prefix", "contains"] as const, "prefix");
    const filters: InstanceFilters = {
      status: q("status") ? enumParam("status", q("status"), INSTANCE_STATUSES, "Running") : null,
      name: textParam("name", q("name")),
      createdFromMs: timeParam("createdFrom", q("createdFrom")),
      createdToMs: timeParam("createdTo", q("createdTo")),
      idPrefix: qMode === "prefix" ? search : null,
      idContains: qMode === "contains" ? search : null,
    };
    if (
      filters.createdFromMs !== null &&
      filters.createdToMs !== null &&
      filters.createdFromMs > filters.createdToMs
    ) {
      throw new HttpError(400, "createdFrom must not be after createdTo");
    }
    const cursor = q("cursor");
    const after = cursor ? decodeCursor(cursor, sort) : null;
    // The total is counted only where an index serves every filter (a status or substring filter
    // would read every instance to count the rare matches), on the first page only, beside the page
    // query on another connection.
    const countable = after === null && filters.status === null && filters.idContains === null;
    const [rows, counted] = await Promise.all([
      deps.reads.listInstances(filters, sort, after && { ms: after.afterMs, id: after.afterId }, limit + 1),
      countable ? deps.reads.countInstances(filters, COUNT_CAP + 1) : Promise.resolve(null),
    ]);
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    const nextCursor =
      rows.length > limit && last
        ? encodeCursor({
            sort,
            afterMs: sort === "updated_desc" ? last.updatedAtMs : last.createdAtMs,
            afterId: last.instanceId,
          })
        : null;
    return c.json({
      items,
      nextCursor,
      total: counted === null || counted > COUNT_CAP ? null : counted,
      /** True when more than COUNT_CAP match (total is then null). */
      totalCapped: counted !== null && counted > COUNT_CAP,
    });
  });

  app.get("/api/orchestration-names", async (c) => {
    return c.json({ names: await deps.reads.orchestrationNames(1000) });
  });
}
