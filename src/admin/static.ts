/**
 * Serves the built dashboard (web/, built by `npm run build` into web/dist/) at `/`.
 *
 * Only two kinds of paths are answered, both by exact lookup, so no request path is ever joined
 * onto a directory (`/../../etc/passwd`, `/%2e%2e/` and the like match nothing and get 404):
 * - the dashboard's client routes (DASHBOARD_ROUTES) answer index.html, never cached;
 * - `/assets/<name>` answers a file that Vite wrote to web/dist/assets/ (names carry a content
 *   hash, so they are cached for a year). The directory is listed once, and again (at most once
 *   a second) when a name is missing, so a rebuild while the node runs is picked up.
 * Without web/dist/index.html every one of them answers 404 "dashboard not built".
 * Loaded with the rest of the admin app, on the first request (see listener.ts).
 */
import type { Dirent } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { assert, ErrorCode } from "../errors.ts";
import { sendError } from "./http-errors.ts";
import { DASHBOARD_ASSETS_COUNT_MAX, DASHBOARD_RESCAN_INTERVAL_MS } from "./limits.ts";

/** Where `npm run build` writes the dashboard. */
export const DASHBOARD_DIR_DEFAULT = new URL("../../web/dist/", import.meta.url).pathname;

/** The dashboard's pages (web/src/routes.ts); a unit test keeps the two lists equal. */
export const DASHBOARD_ROUTES: readonly string[] = [
  "/",
  "/login",
  "/clients",
  "/sessions",
  "/subscriptions",
  "/topics",
  "/retained",
  "/delayed",
  "/rules",
  "/storage",
  "/security",
  "/alarms",
  "/slow-subscriptions",
  "/cluster",
];

export const NOT_BUILT_MESSAGE = "dashboard not built: run npm run build";

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
};

const CACHE_IMMUTABLE = "public, max-age=31536000, immutable";
const CACHE_NEVER = "no-cache";
/** The page loads only its own scripts and styles and talks only to this server. */
const INDEX_CSP =
  "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/**
 * File names under dist/assets/, listed from disk; listed again on a miss, at most once a second.
 * Requests that miss while a listing runs wait for that listing (the browser asks for the script
 * and the stylesheet at once).
 */
class AssetIndex {
  private names = new Set<string>();
  private scanning: Promise<void> | null = null;
  private scannedAtMs = Number.NEGATIVE_INFINITY;
  private readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  async has(name: string): Promise<boolean> {
    if (this.names.has(name)) return true;
    if (this.scanning === null && Date.now() - this.scannedAtMs >= DASHBOARD_RESCAN_INTERVAL_MS) {
      this.scannedAtMs = Date.now();
      this.scanning = listFiles(this.dir).then((names) => {
        this.names = names;
        this.scanning = null;
      });
    }
    if (this.scanning !== null) await this.scanning;
    return this.names.has(name);
  }
}

async function listFiles(dir: string): Promise<Set<string>> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return new Set();
  }
  const names = new Set<string>();
  for (const entry of entries) {
    if (!entry.isFile() || CONTENT_TYPES[extname(entry.name)] === undefined) continue;
    if (names.size >= DASHBOARD_ASSETS_COUNT_MAX) break;
    names.add(entry.name);
  }
  assert(names.size <= DASHBOARD_ASSETS_COUNT_MAX, "asset index is bounded");
  return names;
}

async function readOrNull(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/** Registers GET (and HEAD) for the dashboard's pages and assets; hidden from the OpenAPI doc. */
export function registerDashboard(app: FastifyInstance, dir = DASHBOARD_DIR_DEFAULT): void {
  const assetsDir = join(dir, "assets");
  const indexFile = join(dir, "index.html");
  const assets = new AssetIndex(assetsDir);
  const hidden = { schema: { hide: true } };

  const serveIndex = async (_request: FastifyRequest, reply: FastifyReply) => {
    const body = await readOrNull(indexFile);
    if (body === null) return sendError(reply, 404, ErrorCode.ADMIN_NOT_FOUND, NOT_BUILT_MESSAGE);
    return reply
      .header("content-type", CONTENT_TYPES[".html"])
      .header("cache-control", CACHE_NEVER)
      .header("x-content-type-options", "nosniff")
      .header("content-security-policy", INDEX_CSP)
      .send(body);
  };
  for (const route of DASHBOARD_ROUTES) {
    app.get(route, hidden, serveIndex);
    if (route !== "/") app.get(`${route}/`, hidden, serveIndex);
  }

  app.get<{ Params: { "*": string } }>("/assets/*", hidden, async (request, reply) => {
    const name = request.params["*"];
    const body = (await assets.has(name)) ? await readOrNull(join(assetsDir, name)) : null;
    if (body === null) {
      const built = (await readOrNull(indexFile)) !== null;
      const message = built ? `no dashboard asset ${request.url}` : NOT_BUILT_MESSAGE;
      return sendError(reply, 404, ErrorCode.ADMIN_NOT_FOUND, message);
    }
    return reply
      .header("content-type", CONTENT_TYPES[extname(name)])
      .header("cache-control", CACHE_IMMUTABLE)
      .header("x-content-type-options", "nosniff")
      .send(body);
  });
}
