/** What every dashboard handler works with. */
import type { Hono } from "hono";
import type { PostgresProvider } from "../provider/postgres-provider.ts";
import type { Client } from "../runtime/client.ts";
import type { DashboardReads } from "./reads.ts";

export interface DashboardDeps {
  schema: string;
  readOnly: boolean;
  provider: PostgresProvider;
  reads: DashboardReads;
  /** Cancel, raise, delete, prune: the store's own client API. */
  client: Client;
  /** Epoch ms "now" (the provider's clock). */
  now: () => number;
}

/** The Hono app type the API modules register their routes on. */
export type DashboardApp = Hono;
