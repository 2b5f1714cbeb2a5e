/**
 * The built dashboard served by the admin app (src/admin/static.ts), over a real socket so that
 * raw request paths (`/../../etc/passwd`) reach the server as sent: content types, cache
 * headers, index.html for the dashboard's routes only, 404 for traversal attempts, and the
 * "not built" answer.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { loadAdminCredentials } from "../../../src/admin/credentials.ts";
import { buildAdminApp } from "../../../src/admin/server.ts";
import { DASHBOARD_ROUTES, NOT_BUILT_MESSAGE } from "../../../src/admin/static.ts";
import { MqttBroker } from "../../../src/broker/mqtt/broker.ts";
import { defaultConfig } from "../../../src/config/load.ts";
import { createLogger } from "../../../src/log/logger.ts";
import { LOGIN_PATH, ROUTES } from "../../../web/src/routes.ts";

const silent = createLogger({ level: "silent", format: "json" });
const dir = mkdtempSync(join(tmpdir(), "rmq-static-unit-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const INDEX = "<!doctype html><title>dash</title>";
const SCRIPT = "console.log('dash');";

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** GET with the path sent exactly as given (no URL normalization). */
function get(port: number, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: "GET" }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        body += chunk;
      });
      response.on("end", () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

async function startApp(dashboardDir: string): Promise<{ app: FastifyInstance; port: number }> {
  const config = defaultConfig();
  config.admin.password = "pw";
  const credentials = await loadAdminCredentials(config.admin, dir, silent);
  const app = await buildAdminApp({
    node: { config, startedAtMs: Date.now(), listeners: () => ({}) },
    broker: new MqttBroker(config, silent),
    credentials,
    logger: silent,
    dashboardDir,
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  return { app, port: (app.server.address() as AddressInfo).port };
}

test("the server's dashboard routes are the dashboard's pages", () => {
  const pages = [...ROUTES.map((r) => r.path), LOGIN_PATH].sort();
  assert.deepEqual([...DASHBOARD_ROUTES].sort(), pages);
});

describe("a built dashboard", () => {
  const dist = join(dir, "dist");
  let port = 0;
  let app: FastifyInstance;
  before(async () => {
    mkdirSync(join(dist, "assets"), { recursive: true });
    writeFileSync(join(dist, "index.html"), INDEX);
    writeFileSync(join(dist, "assets", "index-AbC123.js"), SCRIPT);
    writeFileSync(join(dist, "assets", "index-AbC123.css"), "body{}");
    writeFileSync(join(dir, "secret.txt"), "TOP-SECRET-CONTENT");
    ({ app, port } = await startApp(dist));
  });
  after(() => app.close());

  test("/ and every client route answer index.html, not cached", async () => {
    for (const path of [...DASHBOARD_ROUTES, "/clients/", "/retained?filter=a%2F%23"]) {
      const answer = await get(port, path);
      assert.equal(answer.status, 200, path);
      assert.equal(answer.body, INDEX, path);
      assert.equal(answer.headers["content-type"], "text/html; charset=utf-8");
      assert.equal(answer.headers["cache-control"], "no-cache");
      assert.match(String(answer.headers["content-security-policy"]), /default-src 'self'/);
    }
  });

  test("hashed assets have their content type and are cached for a year", async () => {
    // Asked at once, as a browser does, before the assets were ever listed.
    const [script, style] = await Promise.all([
      get(port, "/assets/index-AbC123.js"),
      get(port, "/assets/index-AbC123.css"),
    ]);
    assert.equal(script.status, 200);
    assert.equal(script.body, SCRIPT);
    assert.equal(script.headers["content-type"], "text/javascript; charset=utf-8");
    assert.equal(script.headers["cache-control"], "public, max-age=31536000, immutable");
    assert.equal(script.headers["x-content-type-options"], "nosniff");
    assert.equal(style.status, 200);
    assert.equal(style.headers["content-type"], "text/css; charset=utf-8");
  });

  test("an asset written after the first request is found (rebuild while running)", async () => {
    assert.equal((await get(port, "/assets/late-X1.js")).status, 404);
    writeFileSync(join(dist, "assets", "late-X1.js"), SCRIPT);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal((await get(port, "/assets/late-X1.js")).status, 200);
  });

  test("traversal attempts and unknown paths get the API's 404", async () => {
    const attempts = [
      "/../../etc/passwd",
      "/%2e%2e/",
      "/%2e%2e/%2e%2e/etc/passwd",
      "/assets/../../../etc/passwd",
      "/assets/%2e%2e/%2e%2e/secret.txt",
      "/assets/..%2f..%2fsecret.txt",
      "/assets/..%5c..%5csecret.txt",
      "/assets/%00",
      "/assets/",
      "/assets/nope.js",
      "/index.html/../../secret.txt",
      "//etc/passwd",
      "/clients/../../etc/passwd",
      "/nope",
      "/secret.txt",
    ];
    for (const path of attempts) {
      const answer = await get(port, path);
      assert.equal(answer.status, 404, path);
      assert.doesNotMatch(answer.body, /TOP-SECRET-CONTENT|root:/, path);
      assert.equal(JSON.parse(answer.body).code, "RMQ_ERR_ADMIN_NOT_FOUND", path);
    }
  });

  test("the API, /health and /metrics are untouched", async () => {
    assert.equal((await get(port, "/health")).status, 200);
    assert.equal((await get(port, "/api/v1/clients")).status, 401);
    assert.equal((await get(port, "/api/v1/nothing")).status, 404);
    const openapi = await get(port, "/api/v1/openapi.json");
    assert.doesNotMatch(openapi.body, /"\/assets|"\/clients"/, "dashboard routes hidden");
  });
});

test("without a build, / answers 404 'dashboard not built' and the API still works", async () => {
  const { app, port } = await startApp(join(dir, "missing"));
  try {
    for (const path of ["/", "/clients", "/assets/index-AbC123.js"]) {
      const answer = await get(port, path);
      assert.equal(answer.status, 404, path);
      assert.equal(JSON.parse(answer.body).message, NOT_BUILT_MESSAGE, path);
    }
    assert.equal((await get(port, "/health")).status, 200);
  } finally {
    await app.close();
  }
});
