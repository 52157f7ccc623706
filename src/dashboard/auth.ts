/**
 * Access to the dashboard (docs/dashboard.md, "Security"):
 *  - with a token, every /api request needs `Authorization: Bearer <token>` or the `pgd_token`
 *    cookie, which `GET /?token=…` sets (HttpOnly, SameSite=Strict) before redirecting to `/`;
 *  - without one (loopback only: the CLI refuses another host without a token), requests must name
 *    a loopback host, so a web page elsewhere cannot reach the API through DNS rebinding;
 *  - a state-changing request carrying an Origin header must come from the dashboard's own origin,
 *    and a POST must send JSON (a cross-site form cannot, without a CORS preflight we never allow).
 */
import { timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";

export const TOKEN_COOKIE = "pgd_token";

function sameToken(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given, "utf8");
  const b = Buffer.from(expected, "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}

function bearer(c: Context): string | undefined {
  const header = c.req.header("authorization");
  const match = header === undefined ? null : /^Bearer\s+(.+)$/i.exec(header.trim());
  return match?.[1];
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** The request's host (the Host header, which the Node adapter builds the URL from). */
const requestHost = (c: Context) => new URL(c.req.url);

/** `GET /?token=…`: check it, keep it in a cookie, and send the browser to the clean URL. */
export function tokenLanding(token: string | null): MiddlewareHandler {
  return async (c, next) => {
    const given = c.req.query("token");
    if (token === null || given === undefined || c.req.method !== "GET") return await next();
    if (!sameToken(given, token)) return c.json({ error: "wrong token" }, 401);
    setCookie(c, TOKEN_COOKIE, token, { httpOnly: true, sameSite: "Strict", path: "/" });
    return c.redirect("/", 302);
  };
}

/** Token, host and origin checks of every /api request. */
export function apiGuard(options: { token: string | null; loopbackOnly: boolean }): MiddlewareHandler {
  return async (c, next) => {
    if (options.loopbackOnly && !LOOPBACK_HOSTS.has(requestHost(c).hostname.toLowerCase())) {
      return c.json({ error: "this dashboard answers only requests to localhost / 127.0.0.1 / [::1]" }, 403);
    }
    if (options.token !== null) {
      const given = bearer(c) ?? getCookie(c, TOKEN_COOKIE);
      if (!sameToken(given, options.token)) {
        return c.json(
          { error: "a token is required: open the dashboard with ?token=… or send Authorization: Bearer …" },
          401,
        );
      }
    }
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      const origin = c.req.header("origin");
      if (origin !== undefined && origin !== "null") {
        let originHost: string | null = null;
        try {
          originHost = new URL(origin).host.toLowerCase();
        } catch {
          originHost = null;
        }
        if (originHost !== requestHost(c).host.toLowerCase()) {
          return c.json({ error: "cross-origin request refused" }, 403);
        }
      } else if (origin === "null") {
        return c.json({ error: "cross-origin request refused" }, 403);
      }
      if (c.req.method === "POST" && !/^application\/json\b/i.test(c.req.header("content-type") ?? "")) {
        return c.json({ error: "send the request body as JSON (Content-Type: application/json)" }, 415);
      }
    }
    return await next();
  };
}
