/** GET /api/config: what the page needs to know about this dashboard. */
import { PROVIDER_VERSION } from "../../provider/postgres-provider.ts";
import type { DashboardApp, DashboardDeps } from "../deps.ts";

export function registerConfig(app: DashboardApp, deps: DashboardDeps): void {
  app.get("/api/config", (c) =>
    c.json({ schema: deps.schema, readOnly: deps.readOnly, version: PROVIDER_VERSION }),
  );
}
