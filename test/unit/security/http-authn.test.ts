/**
 * HTTP authentication against a real node:http server on 127.0.0.1: EMQX-style answers, status
 * codes, timeouts, a closed port, the request itself (body fields, headers), the answer cache
 * and shared in-flight requests.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, test } from "node:test";
import { type ConfigInput, MqttAuthHttpSchema } from "../../../src/config/schema.ts";
import { RobustMQError } from "../../../src/errors.ts";
import { createLogger } from "../../../src/log/logger.ts";
import { HttpAuthenticator } from "../../../src/security/authn/http.ts";
import type { Credentials } from "../../../src/security/types.ts";

interface Seen {
  readonly method: string | undefined;
  readonly headers: IncomingMessage["headers"];
  readonly body: unknown;
}

type Respond = (response: ServerResponse, body: Record<string, unknown>) => void;

let server: Server;
let url: string;
let seen: Seen[] = [];
let respond: Respond = (res) => res.writeHead(204).end();

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
      seen.push({ method: req.method, headers: req.headers, body });
      respond(res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  seen = [];
});

function json(status: number, value: unknown): Respond {
  return (res) => {
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
  };
}

interface Captured {
  readonly logger: ReturnType<typeof createLogger>;
  readonly warnings: () => string[];
}

function capturingLogger(): Captured {
  const lines: string[] = [];
  const logger = createLogger({
    level: "warn",
    format: "json",
    destination: { write: (line: string) => lines.push(line) },
  });
  return { logger, warnings: () => lines.map((l) => (JSON.parse(l) as { msg: string }).msg) };
}

function authenticator(
  input: NonNullable<ConfigInput["mqtt_auth_http"]> = {},
  clock: () => number = Date.now,
): { http: HttpAuthenticator; warnings: () => string[] } {
  const { logger, warnings } = capturingLogger();
  const options = MqttAuthHttpSchema.parse({ url, cache_ttl_ms: 0, ...input });
  return { http: new HttpAuthenticator(options, logger, clock), warnings };
}

function creds(password: string | undefined = "pw", extra: Partial<Credentials> = {}) {
  const credentials: Credentials = {
    clientId: "client-1",
    username: "alice",
    password: password === undefined ? undefined : Buffer.from(password),
    ip: "192.0.2.7",
    certificateUsername: undefined,
    ...extra,
  };
  return credentials;
}

describe("HttpAuthenticator answers", () => {
  test("200 allow / deny / ignore in EMQX's format", async () => {
    const { http, warnings } = authenticator();
    assert.equal(http.name, "http");
    respond = json(200, { result: "allow", is_superuser: true });
    assert.deepEqual(await http.authenticate(creds()), { result: "allow", superuser: true });
    respond = json(200, { result: "allow" });
    assert.deepEqual(await http.authenticate(creds()), { result: "allow", superuser: false });
    respond = json(200, { result: "deny" });
    assert.equal((await http.authenticate(creds())).result, "deny");
    respond = json(200, { result: "ignore" });
    assert.equal((await http.authenticate(creds())).result, "ignore");
    assert.deepEqual(warnings(), []);
  });

  test("204 allows, 4xx denies", async () => {
    const { http } = authenticator();
    respond = (res) => res.writeHead(204).end();
    assert.deepEqual(await http.authenticate(creds()), { result: "allow", superuser: false });
    for (const status of [400, 401, 403, 404]) {
      respond = json(status, { result: "allow" });
      assert.deepEqual(await http.authenticate(creds()), {
        result: "deny",
        reason: `the HTTP service answered ${status}`,
      });
    }
  });

  test("5xx, nonsense, redirect, timeout, closed port: ignored with a warning", async () => {
    const { http, warnings } = authenticator({ timeout_ms: 100 });
    const cases: Respond[] = [
      json(500, { result: "allow" }),
      json(503, {}),
      json(200, { result: "yes" }),
      json(200, { result: "allow", is_superuser: "true" }),
      json(200, ["allow"]),
      (res) => res.writeHead(200).end("allow"),
      (res) => res.writeHead(200).end(),
      (res) => res.writeHead(200).end("x".repeat(70_000)),
      (res) => res.writeHead(307, { location: "http://example.invalid/" }).end(),
      () => {}, // never answers: the 100 ms timeout ends it
    ];
    for (const [i, answer] of cases.entries()) {
      respond = answer;
      assert.equal((await http.authenticate(creds())).result, "ignore", `case ${i}`);
    }
    assert.equal(warnings().length, cases.length);
    assert.equal(seen.length, cases.length, "no redirect was followed");

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = authenticator({ url: `http://127.0.0.1:${port}/auth` });
    assert.equal((await refused.http.authenticate(creds())).result, "ignore");
    assert.equal(refused.warnings().length, 1);
  });
});

describe("HttpAuthenticator requests", () => {
  test("POSTs the four fields as JSON with the Authorization header", async () => {
    const { http } = authenticator({ authorization: "Bearer s3cret" });
    respond = json(200, { result: "allow" });
    await http.authenticate(creds("pässword"));
    assert.equal(seen.length, 1);
    const [request] = seen;
    assert.equal(request.method, "POST");
    assert.equal(request.headers.authorization, "Bearer s3cret");
    assert.match(request.headers["content-type"] ?? "", /^application\/json/);
    assert.deepEqual(request.body, {
      clientid: "client-1",
      username: "alice",
      password: "pässword",
      peerhost: "192.0.2.7",
    });
    const bare = authenticator();
    await bare.http.authenticate(creds("", { username: undefined, password: undefined }));
    assert.equal(seen[1].headers.authorization, undefined);
    assert.deepEqual(seen[1].body, {
      clientid: "client-1",
      username: "",
      password: "",
      peerhost: "192.0.2.7",
    });
  });

  test("an empty url is a config error", () => {
    const { logger } = capturingLogger();
    assert.throws(
      () => new HttpAuthenticator(MqttAuthHttpSchema.parse({}), logger),
      (err: unknown) =>
        err instanceof RobustMQError &&
        err.code === "RMQ_ERR_CONFIG_INVALID" &&
        err.message.includes("mqtt_auth_http"),
    );
  });
});

describe("HttpAuthenticator cache", () => {
  test("allow and deny answers are reused until the ttl, ignore answers are not", async () => {
    let nowMs = 1_000_000;
    const { http } = authenticator({ cache_ttl_ms: 5000 }, () => nowMs);
    respond = json(200, { result: "allow", is_superuser: true });
    for (let i = 0; i < 3; i += 1) {
      assert.deepEqual(await http.authenticate(creds()), { result: "allow", superuser: true });
    }
    assert.equal(seen.length, 1);
    // Any field changing is a different question.
    await http.authenticate(creds("other"));
    await http.authenticate(creds("pw", { ip: "192.0.2.8" }));
    await http.authenticate(creds("pw", { clientId: "client-2" }));
    await http.authenticate(creds("pw", { username: undefined }));
    assert.equal(seen.length, 5);
    nowMs += 5000;
    await http.authenticate(creds());
    assert.equal(seen.length, 6, "expired");

    respond = json(200, { result: "ignore" });
    await http.authenticate(creds("ignored"));
    await http.authenticate(creds("ignored"));
    assert.equal(seen.length, 8);
    respond = json(401, {});
    await http.authenticate(creds("denied"));
    assert.equal((await http.authenticate(creds("denied"))).result, "deny");
    assert.equal(seen.length, 9);
  });

  test("the cache keeps at most cache_max_entries, dropping the oldest", async () => {
    const { http } = authenticator({ cache_ttl_ms: 60_000, cache_max_entries: 2 });
    respond = json(200, { result: "allow" });
    for (const password of ["a", "b", "c"]) await http.authenticate(creds(password));
    assert.equal(http.cacheSize, 2);
    await http.authenticate(creds("c"));
    await http.authenticate(creds("b"));
    assert.equal(seen.length, 3, "b and c cached");
    await http.authenticate(creds("a"));
    assert.equal(seen.length, 4, "a was evicted");
  });

  test("with ttl 0 nothing is cached", async () => {
    const { http } = authenticator({ cache_ttl_ms: 0 });
    respond = json(200, { result: "allow" });
    await http.authenticate(creds());
    await http.authenticate(creds());
    assert.equal(seen.length, 2);
    assert.equal(http.cacheSize, 0);
  });

  test("identical checks under way share one request", async () => {
    const { http } = authenticator({ cache_ttl_ms: 0 });
    respond = (res) => setTimeout(() => json(200, { result: "allow" })(res, {}), 50);
    const results = await Promise.all([
      http.authenticate(creds()),
      http.authenticate(creds()),
      http.authenticate(creds()),
      http.authenticate(creds("different")),
    ]);
    assert.ok(results.every((r) => r.result === "allow"));
    assert.equal(seen.length, 2);
  });
});
