/**
 * The dashboard's actions, through the store's client API: cancel an instance, raise an event,
 * delete an instance (with its sub-orchestrations), prune old executions. All are refused with
 * 403 on a --read-only dashboard (the page asks for confirmation before sending any of them).
 */
import type { MiddlewareHandler } from "hono";
import type { DashboardApp, DashboardDeps } from "../deps.ts";
import { HttpError } from "../http-error.ts";
import { jsonBody, optionalIntField } from "../params.ts";

/** Default and largest number of instances one prune request looks at. */
export const PRUNE_LIMIT = 1000;

function writable(deps: DashboardDeps): MiddlewareHandler {
  return async (c, next) => {
    if (deps.readOnly) return c.json({ error: "read-only dashboard" }, 403);
    return await next();
  };
}

function optionalString(body: Record<string, unknown>, name: string): string | null {
  const value = body[name];
  if (value === undefined || value === null) return null;
  if (typeof value !== "string") throw new HttpError(400, `${name} must be a string`);
  return value;
}

export function registerActions(app: DashboardApp, deps: DashboardDeps): void {
  const guard = writable(deps);

  app.post("/api/instances/:id/cancel", guard, async (c) => {
    const id = c.req.param("id");
    const body = await jsonBody(c.req.raw);
    await deps.client.cancelInstance(id, optionalString(body, "reason") ?? "cancelled from the dashboard");
    return c.json({ ok: true, instanceId: id });
  });

  app.post("/api/instances/:id/events", guard, async (c) => {
    const id = c.req.param("id");
    const body = await jsonBody(c.req.raw);
    const name = optionalString(body, "name");
    if (name === null || name === "") throw new HttpError(400, "name (the event name) is required");
    await deps.client.raiseEvent(id, name, body.data ?? null);
    return c.json({ ok: true, instanceId: id, name });
  });

  app.delete("/api/instances/:id", guard, async (c) => {
    const id = c.req.param("id");
    const force = c.req.query("force") === "true";
    const result = await deps.client.deleteInstance(id, force);
    return c.json({ ok: true, instanceId: id, ...result });
  });

  app.post("/api/prune", guard, async (c) => {
    const body = await jsonBody(c.req.raw);
    const completedBefore = optionalIntField(body, "completedBeforeMs", 0);
    const keepLast = optionalIntField(body, "keepLast", 1);
    const limit = optionalIntField(body, "limit", 1) ?? PRUNE_LIMIT;
    if (limit > PRUNE_LIMIT) throw new HttpError(400, `limit must be at most ${PRUNE_LIMIT}`);
    if (completedBefore === null && keepLast === null) {
      // Without either, every finished execution but the current one would go: make that explicit.
      throw new HttpError(
        400,
        "pass keepLast and/or completedBeforeMs (keepLast 1 keeps only the current execution)",
      );
    }
    const instanceId = optionalString(body, "instanceId");
    const result = await deps.client.pruneExecutionsBulk(
      { instanceIds: instanceId === null ? null : [instanceId], limit },
      { keepLast, completedBefore },
    );
    return c.json({ ok: true, ...result });
  });
}
