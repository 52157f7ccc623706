/**
 * The dashboard's HTTP server (docs/dashboard.md): a Hono app with the JSON API under /api and
 * the single page for every other path, served by @hono/node-server.
 *
 *   createDashboard({provider, readOnly, token})  the app (also usable in-process: app.request())
 *   startDashboard({...same, or pool/connectionString + schema, host, port})  listening: {url, close()}
 *
 * Every /api answer carries `Server-Timing: app;dur=<ms>`, the time the server spent on it.
 */
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import type pg from "pg";
import { PostgresProvider } from "../provider/postgres-provider.ts";
import { SqlFunctions } from "../provider/sql.ts";
import { Client } from "../runtime/client.ts";
import { registerActions } from "./api/actions.ts";
import { registerConfig } from "./api/config.ts";
import { registerHistory } from "./api/history.ts";
import { registerInstance } from "./api/instance.ts";
import { registerInstances } from "./api/instances.ts";
import { registerMetrics } from "./api/metrics.ts";
import { registerQueues } from "./api/queues.ts";
import { apiGuard, tokenLanding } from "./auth.ts";
import type { DashboardDeps } from "./deps.ts";
import { errorAnswer } from "./http-error.ts";
import { DashboardReads } from "./reads.ts";
import { PUBLIC_DIR, serveAsset, serveIndex } from "./static.ts";

export interface DashboardOptions {
  provider: PostgresProvider;
  /** Refuse every action (cancel, raise, delete, prune) with 403. Default false. */
  readOnly?: boolean;
  /** Require this token on every /api request (see auth.ts). Default none. */
  token?: string | null;
  /**
   * Answer only requests whose Host is a loopback name (against DNS rebinding). Default: true when
   * no token is set.
   */
  loopbackOnly?: boolean;
  /** Where the page's files are. Default: public/ beside this module. */
  publicDir?: string;
  /** Where server errors (500) are reported. Default: console.error. */
  onServerError?: (error: unknown) => void;
}

export function createDashboard(options: DashboardOptions): Hono {
  const { provider } = options;
  const token = options.token || null;
  const now = () => provider.now();
  const deps: DashboardDeps = {
    schema: provider.schema,
    readOnly: options.readOnly ?? false,
    provider,
    reads: new DashboardReads(new SqlFunctions(provider.pool, provider.schema, now)),
    client: new Client(provider),
    now,
  };
  const publicDir = options.publicDir ?? PUBLIC_DIR;
  const onServerError = options.onServerError ?? ((error: unknown) => console.error("dashboard:", error));

  const app = new Hono();
  app.onError((error, c) => {
    const { status, message } = errorAnswer(error);
    if (status === 500) onServerError(error);
    return c.json({ error: message }, status);
  });
  app.use("/api/*", async (c, next) => {
    const started = performance.now();
    await next();
    try {
      c.res.headers.set("server-timing", `app;dur=${(performance.now() - started).toFixed(1)}`);
      c.res.headers.set("cache-control", "no-store");
    } catch {
      // An immutable response (none of ours): it goes without the header.
    }
  });
  app.use("/api/*", apiGuard({ token, loopbackOnly: options.loopbackOnly ?? token === null }));
  registerConfig(app, deps);
  registerInstances(app, deps);
  registerInstance(app, deps);
  registerHistory(app, deps);
  registerQueues(app, deps);
  registerMetrics(app, deps);
  registerActions(app, deps);
  app.all("/api/*", (c) => c.json({ error: `no such API: ${c.req.method} ${c.req.path}` }, 404));

  app.use("/", tokenLanding(token));
  app.get("/assets/*", (c) => serveAsset(c, publicDir));
  app.get("*", (c) => serveIndex(c, publicDir));
  return app;
}

export type StartDashboardOptions = Omit<DashboardOptions, "provider"> & {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 4600; 0 picks a free port. */
  port?: number;
} & (
    | { provider: PostgresProvider }
    | { pool: pg.Pool; schema: string }
    | { connectionString: string; schema: string }
  );

export interface RunningDashboard {
  /** http://host:port/ */
  url: string;
  port: number;
  /** Stop listening, and close the provider if the dashboard created it. */
  close(): Promise<void>;
}

export const LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1"];

/** Listen on host:port; the provider is created (without long polling) unless one is given. */
export async function startDashboard(options: StartDashboardOptions): Promise<RunningDashboard> {
  const host = options.host ?? "127.0.0.1";
  const ownsProvider = !("provider" in options);
  const provider =
    "provider" in options
      ? options.provider
      : await PostgresProvider.create({
          ...("pool" in options ? { pool: options.pool } : { connectionString: options.connectionString }),
          schema: options.schema,
          longPoll: false,
          applicationName: "pg-durable-dashboard",
        });
  const app = createDashboard({ ...options, provider });
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port: options.port ?? 4600 }, () => resolve(s));
    s.once("error", reject);
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}/`,
    port,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Idle keep-alive connections would hold close() open.
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      if (ownsProvider) await provider.close();
    },
  };
}
