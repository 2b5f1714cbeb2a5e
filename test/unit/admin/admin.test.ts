/**
 * The admin module's pieces on their own: tokens, stored credentials, error formatting, config
 * redaction, paging, ctl's table rendering, and the fastify app answered through inject() (no
 * socket) over an in-process broker.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  AdminCredentials,
  credentialsPath,
  loadAdminCredentials,
} from "../../../src/admin/credentials.ts";
import { errorBody, formatSchemaErrors } from "../../../src/admin/http-errors.ts";
import { PATH_PARAM_CHARS_MAX } from "../../../src/admin/limits.ts";
import { redactConfig } from "../../../src/admin/routes-node.ts";
import { buildAdminApp } from "../../../src/admin/server.ts";
import { bearerToken, TokenStore } from "../../../src/admin/tokens.ts";
import { paginate } from "../../../src/admin/views.ts";
import { MqttBroker } from "../../../src/broker/mqtt/broker.ts";
import { Message } from "../../../src/broker/mqtt/message.ts";
import { renderObject, renderTable } from "../../../src/cli/ctl/output.ts";
import { defaultConfig } from "../../../src/config/load.ts";
import { RobustMQError } from "../../../src/errors.ts";
import { createLogger } from "../../../src/log/logger.ts";

const silent = createLogger({ level: "silent", format: "json" });
const dir = mkdtempSync(join(tmpdir(), "rmq-admin-unit-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("TokenStore", () => {
  test("issues distinct tokens that expire after the ttl", () => {
    let nowMs = 1_000_000;
    const store = new TokenStore(60, () => nowMs);
    const a = store.issue();
    const b = store.issue();
    assert.notEqual(a.token, b.token);
    assert.equal(a.expiresAtMs, 1_060_000);
    assert.ok(store.valid(a.token));
    assert.ok(!store.valid(`${a.token}x`));
    nowMs += 59_999;
    assert.ok(store.valid(b.token));
    nowMs += 1;
    assert.ok(!store.valid(a.token));
    assert.ok(!store.valid(b.token));
  });

  test("keeps at most countMax tokens, dropping the oldest", () => {
    const store = new TokenStore(60, Date.now, 3);
    const tokens = [1, 2, 3, 4].map(() => store.issue().token);
    assert.equal(store.size, 3);
    assert.ok(!store.valid(tokens[0]));
    assert.ok(tokens.slice(1).every((t) => store.valid(t)));
  });

  test("expired tokens are purged on issue", () => {
    let nowMs = 0;
    const store = new TokenStore(60, () => nowMs);
    store.issue();
    store.issue();
    nowMs = 61_000;
    store.issue();
    assert.equal(store.size, 1);
  });

  test("bearerToken parses only the Bearer scheme", () => {
    assert.equal(bearerToken("Bearer abc-DEF_1"), "abc-DEF_1");
    assert.equal(bearerToken("bearer abc"), "abc");
    assert.equal(bearerToken(undefined), null);
    assert.equal(bearerToken("Basic abc"), null);
    assert.equal(bearerToken("Bearer "), null);
    assert.equal(bearerToken("Bearer a b"), null);
  });
});

describe("admin credentials", () => {
  test("a configured password is accepted, nothing is written", async () => {
    const dataDir = join(dir, "configured");
    const creds = await loadAdminCredentials({ username: "ops", password: "pw" }, dataDir, silent);
    assert.ok(await creds.verify("ops", "pw"));
    assert.ok(!(await creds.verify("ops", "pw2")));
    assert.ok(!(await creds.verify("admin", "pw")));
    assert.throws(() => statSync(credentialsPath(dataDir)));
  });

  test("an empty password is generated once, logged once, stored hashed, then reused", async () => {
    const dataDir = join(dir, "generated");
    const lines: string[] = [];
    const logger = createLogger({
      level: "info",
      format: "json",
      destination: { write: (line: string) => lines.push(line) },
    });
    const admin = { username: "admin", password: "" };
    const first = await loadAdminCredentials(admin, dataDir, logger);
    assert.equal(lines.length, 1);
    const logged = JSON.parse(lines[0]) as { level: string; password: string };
    assert.equal(logged.level, "warn");
    assert.ok(await first.verify("admin", logged.password));
    const file = credentialsPath(dataDir);
    assert.ok(!readFileSync(file, "utf8").includes(logged.password));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const second = await loadAdminCredentials(admin, dataDir, logger);
    assert.equal(lines.length, 1, "not generated or logged again");
    assert.ok(await second.verify("admin", logged.password));
  });

  test("a damaged credentials file stops the start with RMQ_ERR_ADMIN_CREDENTIALS", async () => {
    const dataDir = join(dir, "damaged");
    await loadAdminCredentials({ username: "a", password: "" }, dataDir, silent);
    for (const content of [
      "{",
      '{"algorithm":"md5"}',
      '{"algorithm":"scrypt","N":1,"r":1,"p":1,"salt":"","hash":"AA=="}',
    ]) {
      writeFileSync(credentialsPath(dataDir), content);
      await assert.rejects(
        loadAdminCredentials({ username: "a", password: "" }, dataDir, silent),
        (err: unknown) => err instanceof RobustMQError && err.code === "RMQ_ERR_ADMIN_CREDENTIALS",
      );
    }
  });
});

describe("helpers", () => {
  test("schema errors name the failing field", () => {
    const error = formatSchemaErrors(
      [
        { instancePath: "", keyword: "required", params: { missingProperty: "password" } },
        { instancePath: "", keyword: "additionalProperties", params: { additionalProperty: "x" } },
        { instancePath: "/limit", keyword: "maximum", params: {}, message: "must be <= 1000" },
      ],
      "body",
    );
    assert.equal(
      error.message,
      "body/password is required; body/x is not allowed; body/limit must be <= 1000",
    );
  });

  test("redactConfig hides the admin password, the JWT secret and the HTTP authorization", () => {
    const config = defaultConfig();
    config.admin.password = "secret";
    config.mqtt_auth_jwt.secret = "jwt-hmac-secret";
    config.mqtt_auth_http.authorization = "Bearer topsecret";
    const shown = redactConfig(config) as unknown as typeof config;
    assert.equal(shown.admin.password, "<redacted>");
    assert.equal(shown.mqtt_auth_jwt.secret, "<redacted>");
    assert.equal(shown.mqtt_auth_http.authorization, "<redacted>");
    assert.doesNotMatch(JSON.stringify(shown), /jwt-hmac-secret|topsecret/);
    assert.equal(shown.admin.username, "admin");
    assert.equal(config.admin.password, "secret", "the live config is untouched");
  });

  test("paginate reports the next offset until the end", () => {
    const items = [1, 2, 3, 4, 5];
    assert.deepEqual(paginate(items, 0, 2), {
      data: [1, 2],
      meta: { total: 5, offset: 0, limit: 2, nextOffset: 2 },
    });
    assert.equal(paginate(items, 4, 2).meta.nextOffset, null);
    assert.deepEqual(paginate(items, 9, 2).data, []);
  });

  test("ctl tables align columns; objects flatten to dotted keys", () => {
    const table = renderTable(
      [
        { id: "a", n: 1 },
        { id: "long-id", n: 22 },
      ],
      [
        { header: "ID", cell: (i) => String(i.id) },
        { header: "N", cell: (i) => String(i.n) },
      ],
    );
    assert.equal(table, "ID       N\na        1\nlong-id  22\n");
    assert.equal(
      renderObject({ a: { b: 1, c: null }, d: ["x", "y"] }),
      "a.b  1\na.c  -\nd    x,y\n",
    );
  });
});

/** An admin app over a fresh broker (admin password "pw"), after one login as admin. */
async function appWithLogin(prepare: (broker: MqttBroker) => void = () => {}) {
  const config = defaultConfig();
  config.admin.password = "pw";
  const broker = new MqttBroker(config, silent);
  prepare(broker);
  const credentials = await loadAdminCredentials(config.admin, dir, silent);
  const app = await buildAdminApp({
    node: { config, startedAtMs: Date.now(), listeners: () => ({}) },
    broker,
    credentials,
    logger: silent,
  });
  const login = await app.inject({
    method: "POST",
    url: "/api/v1/login",
    payload: { username: "admin", password: "pw" },
  });
  return { app, broker, login };
}

describe("admin app through inject()", () => {
  test("login, list a session, retained, kick of an offline client, 401/404/400", async () => {
    const { app, broker, login } = await appWithLogin((b) =>
      b.publish(new Message("t/1", Buffer.from("hi"), 1, true, undefined, 0, "x")),
    );
    try {
      assert.equal(login.statusCode, 200);
      for (const type of ["text/plain", "application/x-www-form-urlencoded"]) {
        const notJson = await app.inject({
          method: "POST",
          url: "/api/v1/login",
          headers: { "content-type": type },
          payload: "username=admin",
        });
        assert.equal(notJson.statusCode, 415, type);
        assert.match(notJson.json().message, /must be JSON/);
      }
      const headers = { authorization: `Bearer ${login.json().token}` };
      const retained = await app.inject({ url: "/api/v1/retained", headers });
      assert.deepEqual(
        retained.json().data.map((r: { topic: string }) => r.topic),
        ["t/1"],
      );
      const kick = await app.inject({ method: "DELETE", url: "/api/v1/clients/nobody", headers });
      assert.equal(kick.statusCode, 404);
      assert.equal((await app.inject({ url: "/api/v1/clients" })).statusCode, 401);
      assert.equal((await app.inject({ url: "/api/v1/clients?limit=x", headers })).statusCode, 400);
      assert.equal((await app.inject({ url: "/api/v1/nothing", headers })).statusCode, 404);
      const metrics = await app.inject({ url: "/metrics" });
      assert.match(metrics.body, /^robustmq_retained_messages 1$/m);
      assert.match(metrics.body, /^robustmq_messages_received_total 1$/m);
    } finally {
      await app.close();
      await broker.shutdown();
    }
  });

  test("a path the router cannot decode is answered in the API's error shape, token or not", async () => {
    const { app, broker, login } = await appWithLogin();
    try {
      const withToken = { authorization: `Bearer ${login.json().token}` };
      const long = "a".repeat(PATH_PARAM_CHARS_MAX + 1);
      const cases = [
        { url: "/api/v1/clients/%FF", status: 400, error: "Bad Request", why: /percent-encoded/ },
        { url: `/api/v1/clients/${long}`, status: 414, error: "URI Too Long", why: /longer than/ },
      ];
      // A path parameter over fastify's default of 100 characters reaches its route.
      const longId = await app.inject({
        url: `/api/v1/clients/${"c".repeat(300)}`,
        headers: withToken,
      });
      assert.equal(longId.statusCode, 404, longId.body);
      assert.equal(longId.json().code, "RMQ_ERR_ADMIN_NOT_FOUND");
      // Refused before a route (and its token check) is chosen, as an unknown route is.
      for (const headers of [withToken, {}]) {
        for (const { url, status, error, why } of cases) {
          const answer = await app.inject({ url, headers });
          assert.equal(answer.statusCode, status, url);
          const body = answer.json();
          assert.deepEqual(Object.keys(body).sort(), ["code", "error", "message", "statusCode"]);
          assert.equal(body.statusCode, status);
          assert.equal(body.code, "RMQ_ERR_ADMIN_INVALID_REQUEST");
          assert.equal(body.error, error);
          assert.match(body.message, why);
        }
      }
    } finally {
      await app.close();
      await broker.shutdown();
    }
  });

  test("every status the API answers has its name in the error body", () => {
    assert.equal(errorBody(409, "RMQ_ERR_ADMIN_CONFLICT", "x").error, "Conflict");
  });

  test("a node without the broker role has no MQTT routes", async () => {
    const config = defaultConfig();
    const app = await buildAdminApp({
      node: { config, startedAtMs: Date.now(), listeners: () => ({}) },
      broker: null,
      credentials: new AdminCredentials("admin", {
        salt: Buffer.alloc(16),
        hash: Buffer.alloc(32),
        params: { N: 1024, r: 8, p: 1 },
      }),
      logger: silent,
    });
    try {
      await app.ready();
      const paths = Object.keys((app.swagger() as { paths: object }).paths);
      assert.ok(paths.includes("/api/v1/node"));
      assert.ok(!paths.some((p) => p.includes("clients") || p.includes("retained")), paths.join());
    } finally {
      await app.close();
    }
  });
});
