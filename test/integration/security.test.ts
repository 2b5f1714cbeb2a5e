/**
 * Authentication, ACL and bans against the real broker process with mqtt.js clients: built-in
 * users (added through the admin API), JWT, the HTTP callout, ordered ACL rules with %u/%c,
 * bans with expiry and flapping detection. Each refusal is checked for its reason code (v5) or
 * return code (v3.1.1), and for having no effect on other clients.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { SignJWT } from "jose";
import type { IClientOptions } from "mqtt";
import { ackCode, subscribeCodes } from "../helpers/ack-codes.ts";
import { ADMIN_CONFIG, type AdminApi, adminApi } from "../helpers/admin-api.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import {
  ClientTracker,
  connectMqtt,
  Inbox,
  uniqueName,
  WAIT_TIMEOUT_MS,
  withTimeout,
} from "../helpers/mqtt-clients.ts";
import { connectPacket, openRaw } from "../helpers/raw-client.ts";

/** The CONNACK code a refused connection got (v5 reason code or v3 return code). */
async function refusal(url: string, options: IClientOptions): Promise<number> {
  try {
    const client = await connectMqtt(url, options);
    client.end(true);
  } catch (err) {
    return (err as { code?: number }).code ?? -1;
  }
  assert.fail(`connection was accepted: ${JSON.stringify({ ...options, password: undefined })}`);
}

describe("built-in users", () => {
  let broker: BrokerProcess;
  let api: AdminApi;
  const clients = new ClientTracker();
  before(async () => {
    broker = await startBroker({
      logLevel: "info",
      config: `${ADMIN_CONFIG}[mqtt_auth]\nauthenticators = ["built_in"]\n`,
    });
    api = await adminApi(broker);
    for (const [username, password, superuser] of [
      ["alice", "alice-secret", false],
      ["root", "root-secret", true],
    ] as const) {
      const reply = await api.call("POST", "/api/v1/users", { username, password, superuser });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
    }
  });
  after(async () => {
    await clients.closeAll();
    await broker.stop();
  });

  test("the right password connects over v5 and v3.1.1", async () => {
    for (const protocolVersion of [5, 4] as const) {
      const client = clients.mqtt(
        await connectMqtt(broker.url, {
          protocolVersion,
          username: "alice",
          password: "alice-secret",
        }),
      );
      assert.equal(client.connected, true);
    }
  });

  test("a wrong password or unknown user: 0x86 (v5), return code 4 (v3.1.1), logged", async () => {
    const wrong = { username: "alice", password: "nope" };
    assert.equal(await refusal(broker.url, { ...wrong, protocolVersion: 5 }), 0x86);
    assert.equal(await refusal(broker.url, { ...wrong, protocolVersion: 4 }), 4);
    const unknown = { username: "mallory", password: "x", protocolVersion: 5 as const };
    assert.equal(await refusal(broker.url, unknown), 0x86);
    await broker.waitForLog((l) =>
      String(l.msg).startsWith("connection refused: not authenticated"),
    );
  });

  test("no credentials: anonymous access is off once an authenticator is set (0x87 / 5)", async () => {
    assert.equal(await refusal(broker.url, { protocolVersion: 5 }), 0x87);
    assert.equal(await refusal(broker.url, { protocolVersion: 4 }), 5);
  });

  test("a password change takes effect at once; a deleted user can no longer connect", async () => {
    const put = await api.call("PUT", "/api/v1/users/alice", { password: "changed" });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const old = { username: "alice", password: "alice-secret", protocolVersion: 5 as const };
    assert.equal(await refusal(broker.url, old), 0x86);
    clients.mqtt(await connectMqtt(broker.url, { ...old, password: "changed" }));
    assert.equal((await api.call("DELETE", "/api/v1/users/alice")).status, 200);
    assert.equal(await refusal(broker.url, { ...old, password: "changed" }), 0x86);
  });

  test("a 65,535-byte unknown Authentication Method after the password check: 0x8C, reason cut short", async () => {
    const raw = clients.raw(await openRaw(broker.port, 5));
    raw.send(
      connectPacket({
        clientId: uniqueName("raw"),
        username: "root",
        password: Buffer.from("root-secret"),
        properties: { authenticationMethod: "m".repeat(65_535) },
      }),
    );
    const connack = await raw.expect("connack");
    assert.equal(connack.reasonCode, 0x8c);
    const reason = connack.properties?.reasonString ?? "";
    assert.match(reason, /^unknown authentication method "m+"$/);
    assert.ok(reason.length < 100, `${reason.length} characters`);
    await raw.waitClosed();
    // The broker answers the next client as before.
    clients.mqtt(await connectMqtt(broker.url, { username: "root", password: "root-secret" }));
  });

  test("packets pipelined behind CONNECT wait for the password check [MQTT-3.1.4-5]", async () => {
    const raw = clients.raw(await openRaw(broker.port, 5));
    const topic = uniqueName("pipelined");
    raw.send(
      connectPacket({
        clientId: uniqueName("raw"),
        username: "root",
        password: Buffer.from("root-secret"),
      }),
    );
    const subscription = { topicFilter: topic, qos: 1 as const, noLocal: false };
    const options = { ...subscription, retainAsPublished: false, retainHandling: 0 as const };
    raw.send({ type: "subscribe", packetId: 7, subscriptions: [options] });
    assert.equal((await raw.expect("connack")).reasonCode, 0);
    assert.deepEqual((await raw.expect("suback")).reasonCodes, [1]);
    const refused = clients.raw(await openRaw(broker.port, 5));
    refused.send(
      connectPacket({
        clientId: uniqueName("raw"),
        username: "root",
        password: Buffer.from("bad"),
      }),
    );
    refused.send({
      type: "publish",
      topic,
      payload: Buffer.from("sneaked"),
      qos: 0,
      retain: false,
      dup: false,
    });
    assert.equal((await refused.expect("connack")).reasonCode, 0x86);
    await refused.waitClosed();
    const inbox = await raw.drain();
    assert.deepEqual(inbox, [], "nothing sent after a refused CONNECT was processed");
  });
});

describe("JWT authentication", () => {
  const secret = "a-shared-hmac-secret-of-enough-length";
  const key = new TextEncoder().encode(secret);
  let broker: BrokerProcess;
  const clients = new ClientTracker();
  before(async () => {
    broker = await startBroker({
      logLevel: "info",
      config: [
        '[mqtt_auth]\nauthenticators = ["jwt"]',
        `[mqtt_auth_jwt]\nsecret = "${secret}"\nverify_client_id = true`,
      ].join("\n"),
    });
  });
  after(async () => {
    await clients.closeAll();
    await broker.stop();
  });

  function token(claims: Record<string, unknown>, expiresIn = "1h"): Promise<string> {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256" })
      .setIssuedAt()
      .setExpirationTime(expiresIn)
      .sign(key);
  }

  test("a valid token bound to the client id connects", async () => {
    const clientId = uniqueName("jwt");
    const password = await token({ clientid: clientId });
    clients.mqtt(await connectMqtt(broker.url, { clientId, username: "u", password }));
  });

  test("expired, wrongly signed, alg none, or for another client id: 0x86", async () => {
    const clientId = uniqueName("jwt");
    const expired = await new SignJWT({ clientid: clientId })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(key);
    const forged = await new SignJWT({ clientid: clientId })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode("some-other-secret-entirely-1234"));
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const none = `${b64({ alg: "none", typ: "JWT" })}.${b64({ clientid: clientId })}.`;
    const otherClient = await token({ clientid: "someone-else" });
    for (const password of [expired, forged, none, otherClient]) {
      assert.equal(
        await refusal(broker.url, { clientId, username: "u", password, protocolVersion: 5 }),
        0x86,
      );
    }
  });
});

describe("HTTP authentication callout", () => {
  let service: Server;
  let broker: BrokerProcess;
  const calls: Array<Record<string, unknown>> = [];
  const clients = new ClientTracker();
  before(async () => {
    service = createServer((req: IncomingMessage, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      req.on("end", () => {
        const asked = JSON.parse(body) as Record<string, unknown>;
        calls.push(asked);
        const allowed = asked.username === "http-user" && asked.password === "http-pass";
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ result: allowed ? "allow" : "deny" }));
      });
    });
    await new Promise<void>((resolve) => service.listen(0, "127.0.0.1", resolve));
    const { port } = service.address() as AddressInfo;
    broker = await startBroker({
      logLevel: "info",
      config: `[mqtt_auth]\nauthenticators = ["http"]\n[mqtt_auth_http]\nurl = "http://127.0.0.1:${port}/auth"\n`,
    });
  });
  after(async () => {
    await clients.closeAll();
    await broker.stop();
    service.close();
  });

  test("the service's allow admits, its deny refuses with 0x86; answers are cached", async () => {
    const good = { clientId: uniqueName("http"), username: "http-user", password: "http-pass" };
    clients.mqtt(await connectMqtt(broker.url, good));
    assert.equal(calls.at(-1)?.peerhost, "127.0.0.1");
    const before = calls.length;
    clients.mqtt(await connectMqtt(broker.url, good));
    assert.equal(calls.length, before, "the second CONNECT was answered from the cache");
    const bad = { username: "http-user", password: "wrong", protocolVersion: 5 as const };
    assert.equal(await refusal(broker.url, bad), 0x86);
  });
});

describe("ACL", () => {
  let broker: BrokerProcess;
  let api: AdminApi;
  const clients = new ClientTracker();
  const rules = [
    '{ permission = "allow", action = "all", topic = "users/%u/#" }',
    '{ permission = "allow", action = "subscribe", topic = "public/#" }',
    '{ permission = "allow", action = "publish", topic = "public/%c" }',
    '{ permission = "deny", action = "all", topic = "#", ip = "10.0.0.0/8" }',
  ];
  before(async () => {
    broker = await startBroker({
      logLevel: "info",
      config: `${ADMIN_CONFIG}[mqtt_acl]\nno_match = "deny"\nrules = [${rules.join(", ")}]\n`,
    });
    api = await adminApi(broker);
  });
  after(async () => {
    await clients.closeAll();
    await broker.stop();
  });

  test("%u and %c rules allow a client its own subtree", async () => {
    const clientId = uniqueName("acl");
    const alice = clients.mqtt(
      await connectMqtt(broker.url, { protocolVersion: 5, clientId, username: "alice" }),
    );
    const inbox = new Inbox(alice);
    assert.deepEqual(await subscribeCodes(alice, "users/alice/#"), [1]);
    assert.deepEqual(await subscribeCodes(alice, "public/#"), [1]);
    await alice.publishAsync("users/alice/a", "mine", { qos: 1 });
    await alice.publishAsync(`public/${clientId}`, "announce", { qos: 1 });
    const got = (await inbox.waitFor(2)).map((m) => m.topic).sort();
    assert.deepEqual(got, [`public/${clientId}`, "users/alice/a"]);
  });

  test("a subscription wider than allowed: SUBACK 0x87 (v5) / 0x80 (v3.1.1)", async () => {
    const v5 = clients.mqtt(
      await connectMqtt(broker.url, { protocolVersion: 5, username: "alice" }),
    );
    assert.deepEqual(await subscribeCodes(v5, "#"), [0x87]);
    assert.deepEqual(await subscribeCodes(v5, "users/+/#"), [0x87]);
    const v3 = clients.mqtt(
      await connectMqtt(broker.url, { username: "alice", protocolVersion: 4 }),
    );
    assert.deepEqual(await subscribeCodes(v3, "users/#"), [0x80]);
  });

  test("a denied publish: PUBACK 0x87 (v5); v3.1.1 acknowledged but not delivered", async () => {
    const bob = clients.mqtt(
      await connectMqtt(broker.url, { protocolVersion: 5, username: "bob" }),
    );
    const inbox = new Inbox(bob);
    await bob.subscribeAsync("users/bob/#", { qos: 1 });
    const alice = clients.mqtt(
      await connectMqtt(broker.url, { protocolVersion: 5, username: "alice" }),
    );
    const puback = await ackCode(alice, "users/bob/x", "intrusion");
    assert.equal(puback, 0x87);
    const alice3 = clients.mqtt(
      await connectMqtt(broker.url, { username: "alice", protocolVersion: 4 }),
    );
    await alice3.publishAsync("users/bob/x", "intrusion", { qos: 1 });
    await bob.publishAsync("users/bob/own", "ok", { qos: 1 });
    await inbox.waitForTopic("users/bob/own");
    assert.deepEqual(inbox.payloads(), ["ok"], "neither intrusion was delivered");
  });

  test("user names and client ids holding +, #, / or % never widen a rule", async () => {
    for (const username of ["+", "#", "a/b"]) {
      const client = clients.mqtt(await connectMqtt(broker.url, { protocolVersion: 5, username }));
      assert.deepEqual(await subscribeCodes(client, "users/#"), [0x87], username);
      assert.deepEqual(await subscribeCodes(client, "users/bob/x"), [0x87], username);
      const puback = await ackCode(client, "users/bob/x", "x");
      assert.equal(puback, 0x87, username);
    }
    // A placeholder inside a value is text, not expanded again: "%c" owns users/%c/... only.
    const clientId = uniqueName("pct");
    const percent = clients.mqtt(
      await connectMqtt(broker.url, { protocolVersion: 5, clientId, username: "%c" }),
    );
    assert.deepEqual(await subscribeCodes(percent, "users/%c/x"), [1]);
    assert.deepEqual(await subscribeCodes(percent, `users/${clientId}/x`), [0x87]);
    const plus = clients.mqtt(await connectMqtt(broker.url, { protocolVersion: 5, clientId: "+" }));
    const puback = await ackCode(plus, "public/anything", "x");
    assert.equal(puback, 0x87, "client id + does not make public/%c a wildcard");
  });

  test("nobody publishes to $SYS, even where a rule would allow it", async () => {
    const added = await api.call("POST", "/api/v1/acl", {
      permission: "allow",
      action: "publish",
      topic: "$SYS/#",
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    const client = clients.mqtt(
      await connectMqtt(broker.url, { protocolVersion: 5, username: "alice" }),
    );
    const puback = await ackCode(client, "$SYS/brokers/fake", "x");
    assert.equal(puback, 0x87);
    assert.equal((await api.call("DELETE", `/api/v1/acl/${added.body.id}`)).status, 200);
  });

  test("a rule added at run time applies at once, to clients already connected", async () => {
    const carol = clients.mqtt(
      await connectMqtt(broker.url, { protocolVersion: 5, username: "carol" }),
    );
    const denied = await ackCode(carol, "shared/board", "x");
    assert.equal(denied, 0x87);
    const added = await api.call("POST", "/api/v1/acl", {
      permission: "allow",
      action: "publish",
      topic: "shared/#",
      username: "carol",
    });
    assert.equal(added.status, 201);
    const allowed = await ackCode(carol, "shared/board", "x");
    assert.equal(allowed, 0, "accepted (mqtt.js reports no code for a success)");
    await api.call("DELETE", `/api/v1/acl/${added.body.id}`);
    const again = await ackCode(carol, "shared/board", "x");
    assert.equal(again, 0x87);
  });

  test("a will on a topic the client may not publish to refuses the CONNECT (0x87)", async () => {
    const will = {
      topic: "users/bob/will",
      payload: Buffer.from("x"),
      qos: 0 as const,
      retain: false,
    };
    assert.equal(await refusal(broker.url, { username: "alice", will, protocolVersion: 5 }), 0x87);
  });
});

describe("bans and flapping", () => {
  let broker: BrokerProcess;
  let api: AdminApi;
  const clients = new ClientTracker();
  before(async () => {
    broker = await startBroker({
      logLevel: "info",
      config: `${ADMIN_CONFIG}[mqtt_flapping]\nenable = true\nmax_disconnects = 3\nwindow_s = 30\nban_s = 60\n`,
    });
    api = await adminApi(broker);
  });
  after(async () => {
    await clients.closeAll();
    await broker.stop();
  });

  test("a ban disconnects the client, refuses it (0x8A / 5), and lapses when lifted", async () => {
    const clientId = uniqueName("banned");
    const client = clients.mqtt(await connectMqtt(broker.url, { clientId }));
    const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
    const other = clients.mqtt(await connectMqtt(broker.url, {}));
    const reply = await api.call("POST", "/api/v1/banned", {
      kind: "client_id",
      value: clientId,
      reason: "test",
    });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    await withTimeout(closed, WAIT_TIMEOUT_MS, "the banned client is disconnected");
    assert.equal(other.connected, true, "others stay");
    assert.equal(await refusal(broker.url, { clientId, protocolVersion: 5 }), 0x8a);
    assert.equal(await refusal(broker.url, { clientId, protocolVersion: 4 }), 5);
    const lifted = await api.call(
      "DELETE",
      `/api/v1/banned/client_id/${encodeURIComponent(clientId)}`,
    );
    assert.equal(lifted.status, 200);
    clients.mqtt(await connectMqtt(broker.url, { clientId }));
  });

  test("an IP range ban covers every client from it", async () => {
    const cidr = "127.0.0.0/8";
    await api.call("POST", "/api/v1/banned", { kind: "ip", value: cidr, duration_s: 60 });
    assert.equal(await refusal(broker.url, { protocolVersion: 5 }), 0x8a);
    await api.call("DELETE", `/api/v1/banned/ip/${encodeURIComponent(cidr)}`);
    clients.mqtt(await connectMqtt(broker.url, {}));
  });

  test("a client that disconnects max_disconnects times within the window is banned", async () => {
    const clientId = uniqueName("flapper");
    for (let i = 0; i < 3; i++) {
      const client = await connectMqtt(broker.url, { clientId });
      await client.endAsync();
    }
    await broker.waitForLog((l) => l.msg === "banned" && l.value === clientId);
    assert.equal(await refusal(broker.url, { clientId, protocolVersion: 5 }), 0x8a);
    const bans = await api.call("GET", "/api/v1/banned");
    const listed = (bans.body.data as Array<Record<string, unknown>>).find(
      (b) => b.value === clientId,
    );
    assert.equal(listed?.reason, "flapping");
  });
});
