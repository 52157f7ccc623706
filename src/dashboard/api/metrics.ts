/**
 * GET /api/metrics?minutes=60: per-minute counts of instances started and executions completed
 * or failed, and turn and activity latency percentiles, over the last `minutes` (1 to 1440). What
 * each latency measures is in sql/82_dashboard/dashboard_metrics.sql and docs/dashboard.md.
 */
import type { DashboardApp, DashboardDeps } from "../deps.ts";
import { intParam } from "../params.ts";

export const BUCKET_MS = 60_000;

export function registerMetrics(app: DashboardApp, deps: DashboardDeps): void {
  app.get("/api/metrics", async (c) => {
    const minutes = intParam("minutes", c.req.query("minutes"), 1, 1440, 60);
    // Whole minutes, the current one last (still filling).
    const toMs = (Math.floor(deps.now() / BUCKET_MS) + 1) * BUCKET_MS;
    const fromMs = toMs - minutes * BUCKET_MS;
    const buckets = await deps.reads.metrics(fromMs, toMs, BUCKET_MS);
    return c.json({ bucketMs: BUCKET_MS, fromMs, toMs, buckets });
  });
}
