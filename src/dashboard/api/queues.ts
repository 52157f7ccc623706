/**
 * GET /api/queues: both queues' messages as ready / delayed / locked (each message counted once;
 * see sql/82_dashboard/dashboard_queue_depths.sql), the age of the oldest ready one, and the
 * sessions held now.
 */
import type { DashboardApp, DashboardDeps } from "../deps.ts";

export function registerQueues(app: DashboardApp, deps: DashboardDeps): void {
  app.get("/api/queues", async (c) => {
    const depths = await deps.reads.queueDepths(deps.now());
    return c.json({ ...depths, sessions: { active: depths.sessionsActive } });
  });
}
