/**
 * The admin API's security routes against the real broker process: built-in users (passwords
 * never in an answer or a log line), ACL rules (order, `before`, read-only config rules), bans
 * (expiry, CIDR values with '/'), validation errors, 404s and 401s. Only the admin surface is
 * tested here (test/integration/security.test.ts checks what clients see), except that a ban
 * disconnects the client it names.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ADMIN_CONFIG, type AdminApi, adminApi } from "../helpers/admin-api.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import {
  ClientTracker,
  connectMqtt,
  uniqueName,
  WAIT_TIMEOUT_MS,
  withTimeout,
} from "../helpers/mqtt-clients.ts";

type Item = Record<string, unknown>;

const CONFIG_RULES = `[mqtt_acl]
rules = [
  { permission = "allow", action = "all", topic = "public/#" },
  { permission = "deny", action = "subscribe", topic = "#", username = "guest" },
]
`;

const PASSWORDS = ["first-Secret-1", "second-Secret-2"];

function items(body: Item): Item[] {
  assert.ok(Array.isArray(body.data), JSON.stringify(body));
  return body.data as Item[];
}

describe("admin API: users, ACL rules and bans", () => {
  let broker: BrokerProcess;
  let api: AdminApi;
  const clients = new ClientTracker();

  before(async () => {
    broker = await startBroker({ logLevel: "debug", config: `${ADMIN_CONFIG}${CONFIG_RULES}` });
    api = await adminApi(broker);
  });
  after(async () => {
    await clients.closeAll();
    await broker.stop();
  });

  /** Asserts the status, and for errors the API's error body with its code. */
  async function expect(method: string, path: string, status: number, body?: unknown) {
    const reply = await api.call(method, path, body);
    assert.equal(reply.status, status, `${method} ${path}: ${JSON.stringify(reply.body)}`);
    if (status >= 400) {
      assert.equal(reply.body.statusCode, status);
      assert.match(String(reply.body.code), /^RMQ_ERR_ADMIN_/);
      assert.equal(typeof reply.body.message, "string");
    }
    return reply.body;
  }

  test("every route answers 401 without a token", async () => {
    const routes: Array<[string, string, unknown?]> = [
      ["GET", "/api/v1/users"],
      ["GET", "/api/v1/users/alice"],
      ["POST", "/api/v1/users", { username: "x", password: "y" }],
      ["PUT", "/api/v1/users/alice", { superuser: true }],
      ["DELETE", "/api/v1/users/alice"],
      ["GET", "/api/v1/acl"],
      ["POST", "/api/v1/acl", { permission: "allow", action: "all", topic: "#" }],
      ["DELETE", "/api/v1/acl/config-1"],
      ["GET", "/api/v1/kafka/acl"],
      ["POST", "/api/v1/kafka/acl", { permission: "allow", action: "all", topic: "*" }],
      ["DELETE", "/api/v1/kafka/acl/config-1"],
      ["GET", "/api/v1/banned"],
      ["POST", "/api/v1/banned", { kind: "client_id", value: "x" }],
      ["DELETE", "/api/v1/banned/client_id/x"],
    ];
    for (const [method, path, body] of routes) {
      const response = await fetch(`${api.base}${path}`, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      assert.equal(response.status, 401, `${method} ${path}`);
      const error = (await response.json()) as Item;
      assert.equal(error.code, "RMQ_ERR_ADMIN_UNAUTHORIZED");
    }
    const acl = items(await expect("GET", "/api/v1/acl", 200));
    assert.deepEqual(
      acl.map((r) => r.id),
      ["config-1", "config-2"],
      "nothing changed",
    );
  });

  test("users: add, list, show, update and delete; no password in any answer", async () => {
    const added = await expect("POST", "/api/v1/users", 201, {
      username: "bob",
      password: PASSWORDS[0],
    });
    assert.deepEqual(Object.keys(added).sort(), ["createdAt", "superuser", "username"]);
    assert.equal(added.superuser, false);
    assert.ok(Math.abs(Date.parse(String(added.createdAt)) - Date.now()) < 60_000);
    await expect("POST", "/api/v1/users", 201, {
      username: "alice",
      password: PASSWORDS[1],
      superuser: true,
    });
    const list = await expect("GET", "/api/v1/users", 200);
    assert.deepEqual(
      items(list).map((u) => [u.username, u.superuser]),
      [
        ["alice", true],
        ["bob", false],
      ],
      "sorted by user name",
    );
    const page = await expect("GET", "/api/v1/users?limit=1&offset=1", 200);
    assert.deepEqual(
      items(page).map((u) => u.username),
      ["bob"],
    );
    assert.deepEqual(page.meta, { total: 2, offset: 1, limit: 1, nextOffset: null });
    const shown = await expect("GET", "/api/v1/users/alice", 200);
    assert.equal(shown.superuser, true);
    const changed = await expect("PUT", "/api/v1/users/alice", 200, {
      password: "changed-Secret-3",
      superuser: false,
    });
    assert.deepEqual(Object.keys(changed).sort(), ["createdAt", "superuser", "username"]);
    assert.equal(changed.superuser, false);
    assert.equal(changed.createdAt, shown.createdAt, "an update keeps the creation time");
    const demoted = await expect("GET", "/api/v1/users/alice", 200);
    assert.equal(demoted.superuser, false);
    assert.deepEqual(await expect("DELETE", "/api/v1/users/alice", 200), {
      username: "alice",
      deleted: true,
    });
    await expect("GET", "/api/v1/users/alice", 404);
    await expect("DELETE", "/api/v1/users/alice", 404);
    await expect("PUT", "/api/v1/users/alice", 404, { superuser: true });
    const left = await expect("GET", "/api/v1/users", 200);
    assert.deepEqual(
      items(left).map((u) => u.username),
      ["bob"],
    );
    for (const secret of [...PASSWORDS, "changed-Secret-3"]) {
      assert.ok(!JSON.stringify(list).includes(secret));
    }
  });

  test("users: names are URL-decoded, duplicates and bad bodies are 400", async () => {
    const name = "team a/b é";
    await expect("POST", "/api/v1/users", 201, { username: name, password: "pw" });
    const shown = await expect("GET", `/api/v1/users/${encodeURIComponent(name)}`, 200);
    assert.equal(shown.username, name);
    const taken = await expect("POST", "/api/v1/users", 400, { username: name, password: "x" });
    assert.match(String(taken.message), /already exists/);
    const bad: Array<[unknown, RegExp]> = [
      [{ username: "carol" }, /body\/password is required/],
      [{ password: "x" }, /body\/username is required/],
      [{ username: "carol", password: "" }, /password/],
      [{ username: "", password: "x" }, /username/],
      [{ username: "carol", password: "x", superuser: "maybe" }, /superuser/],
      [{ username: "carol", password: "x", admin: true }, /body\/admin is not allowed/],
    ];
    for (const [body, message] of bad) {
      const error = await expect("POST", "/api/v1/users", 400, body);
      assert.equal(error.code, "RMQ_ERR_ADMIN_INVALID_REQUEST");
      assert.match(String(error.message), message, JSON.stringify(body));
    }
    await expect("GET", "/api/v1/users/carol", 404);
    await expect("PUT", `/api/v1/users/${encodeURIComponent(name)}`, 400, {});
    await expect("PUT", `/api/v1/users/${encodeURIComponent(name)}`, 400, { password: "" });
    await expect("GET", "/api/v1/users?limit=0", 400);
    await expect("GET", "/api/v1/users?name=x", 400);
    await expect("DELETE", `/api/v1/users/${encodeURIComponent(name)}`, 200);
  });

  test("ACL: config rules first and read-only; API rules in order, before, delete", async () => {
    const initial = items(await expect("GET", "/api/v1/acl", 200));
    assert.deepEqual(initial, [
      {
        id: "config-1",
        source: "config",
        permission: "allow",
        action: "all",
        topic: "public/#",
        username: null,
        client_id: null,
        ip: null,
      },
      {
        id: "config-2",
        source: "config",
        permission: "deny",
        action: "subscribe",
        topic: "#",
        username: "guest",
        client_id: null,
        ip: null,
      },
    ]);
    const first = await expect("POST", "/api/v1/acl", 201, {
      permission: "allow",
      action: "publish",
      topic: "sensors/%c/#",
      username: "bob",
      client_id: "sensor-1",
      ip: "10.0.0.0/8",
    });
    assert.equal(first.source, "api");
    assert.match(String(first.id), /^api-/);
    assert.deepEqual(
      [first.permission, first.action, first.topic, first.username, first.client_id, first.ip],
      ["allow", "publish", "sensors/%c/#", "bob", "sensor-1", "10.0.0.0/8"],
    );
    const second = await expect("POST", "/api/v1/acl", 201, {
      permission: "deny",
      action: "all",
      topic: "#",
    });
    assert.equal(second.username, null);
    const inserted = await expect("POST", "/api/v1/acl", 201, {
      permission: "allow",
      action: "subscribe",
      topic: "alerts/+",
      username: null,
      before: second.id,
    });
    const ids = () =>
      expect("GET", "/api/v1/acl", 200).then((body) => items(body).map((r) => r.id));
    assert.deepEqual(await ids(), ["config-1", "config-2", first.id, inserted.id, second.id]);
    const page = await expect("GET", "/api/v1/acl?limit=2&offset=2", 200);
    assert.deepEqual(
      items(page).map((r) => r.id),
      [first.id, inserted.id],
    );
    assert.equal((page.meta as Item).nextOffset, 4);

    const readOnly = await expect("DELETE", "/api/v1/acl/config-1", 400);
    assert.equal(readOnly.code, "RMQ_ERR_ADMIN_INVALID_REQUEST");
    assert.match(String(readOnly.message), /config/);
    const beforeConfig = await expect("POST", "/api/v1/acl", 400, {
      permission: "allow",
      action: "all",
      topic: "x",
      before: "config-2",
    });
    assert.match(String(beforeConfig.message), /config rules always come first/);
    await expect("POST", "/api/v1/acl", 404, {
      permission: "allow",
      action: "all",
      topic: "x",
      before: "api-nosuchrule",
    });
    assert.deepEqual(await expect("DELETE", `/api/v1/acl/${inserted.id}`, 200), {
      id: inserted.id,
      deleted: true,
    });
    await expect("DELETE", `/api/v1/acl/${inserted.id}`, 404);
    await expect("DELETE", "/api/v1/acl/api-nosuchrule", 404);
    await expect("DELETE", `/api/v1/acl/${first.id}`, 200);
    await expect("DELETE", `/api/v1/acl/${second.id}`, 200);
    assert.deepEqual(await ids(), ["config-1", "config-2"]);
  });

  test("ACL: invalid rules are 400 and add nothing", async () => {
    const base = { permission: "allow", action: "publish", topic: "a/b" };
    const bad: Array<[Item, RegExp]> = [
      [{ ...base, topic: "a/#/b" }, /topic/],
      [{ ...base, topic: "" }, /topic/],
      [{ ...base, ip: "10.0.0.0/33" }, /ip/],
      [{ ...base, ip: "not-an-address" }, /ip/],
      [{ ...base, permission: "maybe" }, /permission/],
      [{ ...base, action: "connect" }, /action/],
      [{ permission: "allow", action: "publish" }, /body\/topic is required/],
      [{ ...base, username: "" }, /username/],
      [{ ...base, qos: 1 }, /body\/qos is not allowed/],
    ];
    for (const [body, message] of bad) {
      const error = await expect("POST", "/api/v1/acl", 400, body);
      assert.match(String(error.message), message, JSON.stringify(body));
    }
    const rules = items(await expect("GET", "/api/v1/acl", 200));
    assert.equal(rules.length, 2, "only the config rules");
  });

  test("bans: add with and without expiry, list, lift (a CIDR value holds '/')", async () => {
    const before = Date.now();
    const timed = await expect("POST", "/api/v1/banned", 201, {
      kind: "client_id",
      value: "ban-me",
      duration_s: 60,
      reason: "testing",
    });
    assert.equal(timed.kicked, 0);
    const ban = timed.ban as Item;
    assert.equal(ban.kind, "client_id");
    assert.equal(ban.value, "ban-me");
    assert.equal(ban.reason, "testing");
    const lapse = Date.parse(String(ban.expiresAt)) - Date.parse(String(ban.createdAt));
    assert.equal(lapse, 60_000);
    assert.ok(Date.parse(String(ban.createdAt)) >= before - 1000);
    const forever = await expect("POST", "/api/v1/banned", 201, {
      kind: "username",
      value: "mallory",
      duration_s: 0,
    });
    assert.equal((forever.ban as Item).expiresAt, null);
    assert.equal((forever.ban as Item).reason, "");
    const cidr = await expect("POST", "/api/v1/banned", 201, { kind: "ip", value: "10.9.0.0/16" });
    assert.equal((cidr.ban as Item).expiresAt, null);
    const canonical = await expect("POST", "/api/v1/banned", 201, { kind: "ip", value: "0::7" });
    assert.equal((canonical.ban as Item).value, "::7", "ip bans are shown as stored");
    const list = items(await expect("GET", "/api/v1/banned", 200));
    assert.deepEqual(
      list.map((b) => [b.kind, b.value]),
      [
        ["client_id", "ban-me"],
        ["username", "mallory"],
        ["ip", "10.9.0.0/16"],
        ["ip", "::7"],
      ],
    );
    const lifted = await expect(
      "DELETE",
      `/api/v1/banned/ip/${encodeURIComponent("10.9.0.0/16")}`,
      200,
    );
    assert.deepEqual(lifted, { kind: "ip", value: "10.9.0.0/16", deleted: true });
    await expect("DELETE", "/api/v1/banned/ip/%3A%3A7", 200);
    await expect("DELETE", "/api/v1/banned/client_id/ban-me", 200);
    await expect("DELETE", "/api/v1/banned/username/mallory", 200);
    assert.deepEqual(items(await expect("GET", "/api/v1/banned", 200)), []);
  });

  test("bans: unknown bans are 404, bad ones 400", async () => {
    await expect("DELETE", "/api/v1/banned/client_id/never-banned", 404);
    await expect("DELETE", `/api/v1/banned/ip/${encodeURIComponent("192.168.0.0/16")}`, 404);
    await expect("DELETE", "/api/v1/banned/colour/blue", 400);
    const bad: Array<[Item, RegExp]> = [
      [{ kind: "ip", value: "10.0.0.0/99" }, /not an IP address or CIDR block/],
      [{ kind: "ip", value: "example.com" }, /not an IP address or CIDR block/],
      [{ kind: "colour", value: "blue" }, /kind/],
      [{ kind: "client_id", value: "" }, /value/],
      [{ kind: "client_id" }, /body\/value is required/],
      [{ kind: "client_id", value: "x", duration_s: -1 }, /duration_s/],
      [{ kind: "client_id", value: "x", duration_s: 1.5 }, /duration_s/],
      [{ kind: "client_id", value: "x", reason: "r".repeat(1025) }, /reason/],
      [{ kind: "client_id", value: "x", until: 5 }, /body\/until is not allowed/],
    ];
    for (const [body, message] of bad) {
      const error = await expect("POST", "/api/v1/banned", 400, body);
      assert.match(String(error.message), message, JSON.stringify(body));
    }
    assert.deepEqual(items(await expect("GET", "/api/v1/banned", 200)), []);
  });

  test("the OpenAPI document lists the security routes", async () => {
    const doc = await expect("GET", "/api/v1/openapi.json", 200);
    const paths = Object.keys(doc.paths as Item);
    for (const path of [
      "/api/v1/users",
      "/api/v1/users/{username}",
      "/api/v1/acl",
      "/api/v1/acl/{id}",
      "/api/v1/banned",
      "/api/v1/banned/{kind}/{value}",
    ]) {
      assert.ok(paths.includes(path), path);
    }
    assert.ok(!JSON.stringify(doc).includes("passwordHash"));
  });

  test("no password reached the broker's log", async () => {
    await expect("POST", "/api/v1/users", 201, { username: "logged", password: PASSWORDS[0] });
    await expect("PUT", "/api/v1/users/logged", 200, { password: PASSWORDS[1] });
    await broker.waitForLog((l) => l.msg === "user changed by an administrator");
    const text = JSON.stringify(broker.logs);
    for (const secret of [...PASSWORDS, "changed-Secret-3"]) {
      assert.ok(!text.includes(secret), `"${secret}" in the log`);
    }
    assert.ok(broker.logs.some((l) => l.msg === "user added by an administrator"));
    await expect("DELETE", "/api/v1/users/logged", 200);
  });

  // Depends on the broker side of the security layer (the ban kicks live clients).
  test("a ban through the API disconnects the connected client it names", async () => {
    const clientId = uniqueName("admin-ban");
    const client = clients.mqtt(await connectMqtt(broker.url, { clientId }));
    const bystander = clients.mqtt(await connectMqtt(broker.url, {}));
    const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
    const reply = await expect("POST", "/api/v1/banned", 201, {
      kind: "client_id",
      value: clientId,
      reason: "kicked by test",
    });
    assert.equal(reply.kicked, 1);
    await withTimeout(closed, WAIT_TIMEOUT_MS, "the banned client is disconnected");
    assert.equal(bystander.connected, true, "other clients stay");
    await expect("DELETE", `/api/v1/banned/client_id/${encodeURIComponent(clientId)}`, 200);
  });
});
