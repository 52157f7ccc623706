/**
 * The dashboard's page: /assets/* are files of public/assets/, every other non-/api path gets
 * public/index.html (the page routes itself, e.g. /instances/<id>). Files are read from the
 * module's own directory, so the same code serves src/dashboard/public in development and
 * dist/dashboard/public once built; a path that would leave public/assets/ is a 404.
 */
import { readFile } from "node:fs/promises";
import { extname, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { Context } from "hono";

export const PUBLIC_DIR = fileURLToPath(new URL("./public/", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".map": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
};

const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

async function fileResponse(c: Context, path: string): Promise<Response> {
  let body: Buffer;
  try {
    body = await readFile(path);
  } catch {
    return c.text("not found", 404);
  }
  return c.body(new Uint8Array(body), 200, {
    "content-type": TYPES[extname(path).toLowerCase()] ?? "application/octet-stream",
    "cache-control": "no-cache",
    ...SECURITY_HEADERS,
  });
}

/** GET /assets/<path>: a file under public/assets/. */
export async function serveAsset(c: Context, publicDir: string = PUBLIC_DIR): Promise<Response> {
  const assets = resolve(publicDir, "assets");
  let relative: string;
  try {
    relative = decodeURIComponent(c.req.path.slice("/assets/".length));
  } catch {
    return c.text("not found", 404);
  }
  const path = resolve(assets, relative);
  if (!path.startsWith(assets + sep) || relative.includes("\0")) return c.text("not found", 404);
  return await fileResponse(c, path);
}

/** Any other page path: the single page. */
export async function serveIndex(c: Context, publicDir: string = PUBLIC_DIR): Promise<Response> {
  return await fileResponse(c, resolve(publicDir, "index.html"));
}
