/**
 * The admin HTTP API and /metrics against the real broker process, with mqtt.js clients
 * connected to it: login and tokens, every resource, kick, retained delete, metrics moving with
 * traffic (auth failures, drops, Kafka logs and the MQTT <-> Kafka bridge too), the OpenAPI
 * document, and bad input that must change nothing.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import type { IDisconnectPacket, MqttClient } from "mqtt";
import { DISCONNECT_REASONS } from "../../src/broker/mqtt/disconnect-reasons.ts";
import { ApiKey } from "../../src/protocol/kafka/api-keys.ts";
import { buildRecordBatch } from "../../src/storage/log/index.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { runCtl } from "../helpers/ctl-cli.ts";
import { createTopic } from "../helpers/kafka-wire.ts";
import {
  ClientTracker,
  connectMqtt,
  uniqueName,
  WAIT_TIMEOUT_MS,
  withTimeout,
} from "../helpers/mqtt-clients.ts";
import { WireClient } from "../unit/protocol/kafka/wire-client.ts";

interface Admin {
  base: string;
  password: string;
  token: string;
}

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

interface ListBody {
  data: Array<Record<string, unknown>>;
  meta: { total: number; offset: number; limit: number; nextOffset: number | null };
}

/** The admin URL and the generated password, both read from the broker's log. */
async function adminOf(broker: BrokerProcess, password?: string): Promise<Admin> {
  const line = await broker.waitForLog((l) => l.listener === "admin", 15_000);
  const port = Number(String(line.address).split(":").pop());
  const base = `http://127.0.0.1:${port}`;
  let secret = password;
  if (secret === undefined) {
    const generated = await broker.waitForLog((l) => typeof l.password === "string");
    secret = String(generated.password);
  }
  const login = await call(base, "POST", "/api/v1/login", null, {
    username: "admin",
    password: secret,
  });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  return { base, password: secret, token: String(login.body.token) };
}

async function call(
  base: string,
  method: string,
  path: string,
  token: string | null,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const all: Record<string, string> = { ...headers };
  if (token !== null) all.authorization = `Bearer ${token}`;
  let payload: string | undefined;
  if (body !== undefined) {
    all["content-type"] ??= "application/json";
    payload = typeof body === "string" ? body : JSON.stringify(body);
  }
  const response = await fetch(`${base}${path}`, { method, headers: all, body: payload });
  const text = await response.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { text };
  }
  return { status: response.status, body: parsed };
}

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** Value of one sample line (`name` or `name{labels}`) in Prometheus text. */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  assert.ok(line !== undefined, `no sample ${series}`);
  return Number(line.slice(series.length + 1));
}

describe("admin API", () => {
  let broker: BrokerProcess;
  let admin: Admin;
  const track = new ClientTracker();
  const get = (path: string) => call(admin.base, "GET", path, admin.token);
  before(async () => {
    broker = await startBroker();
    admin = await adminOf(broker);
  });
  afterEach(() => track.closeAll());
  after(() => broker.stop());

  test("GET /health is open", async () => {
    const reply = await call(admin.base, "GET", "/health", null);
    assert.equal(reply.status, 200);
    assert.equal(reply.body.status, "ok");
    assert.equal(typeof reply.body.uptimeS, "number");
    assert.match(String(reply.body.version), /^\d+\.\d+\.\d+/);
  });

  test("the generated password was logged once and is stored hashed", async () => {
    const lines = broker.logs.filter((l) => typeof l.password === "string");
    assert.equal(lines.length, 1);
    assert.equal(lines[0].level, "warn");
    const file = join(broker.dataDir, "admin", "credentials.json");
    const stored = readFileSync(file, "utf8");
    assert.ok(!stored.includes(admin.password), "plaintext password in credentials.json");
    assert.equal(JSON.parse(stored).algorithm, "scrypt");
  });

  test("login: wrong password, wrong user, and a good login", async () => {
    const wrong = await call(admin.base, "POST", "/api/v1/login", null, {
      username: "admin",
      password: `${admin.password}x`,
    });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.code, "RMQ_ERR_ADMIN_UNAUTHORIZED");
    const user = await call(admin.base, "POST", "/api/v1/login", null, {
      username: "root",
      password: admin.password,
    });
    assert.equal(user.status, 401);
    const good = await call(admin.base, "POST", "/api/v1/login", null, {
      username: "admin",
      password: admin.password,
    });
    assert.equal(good.status, 200);
    assert.ok(String(good.body.token).length >= 43, "32 random bytes, base64url");
    const expiresInMs = Date.parse(String(good.body.expiresAt)) - Date.now();
    assert.ok(expiresInMs > 3500_000 && expiresInMs <= 3600_000, `expires in ${expiresInMs} ms`);
  });

  test("a login flood is capped: parallel checks beyond the limit get 429, then login works", async () => {
    const attempts = Array.from({ length: 24 }, () =>
      call(admin.base, "POST", "/api/v1/login", null, { username: "admin", password: "nope" }),
    );
    const statuses = (await Promise.all(attempts)).map((r) => r.status);
    assert.ok(statuses.includes(429), `no 429 among ${statuses.join(",")}`);
    assert.ok(
      statuses.every((s) => s === 401 || s === 429),
      statuses.join(","),
    );
    const good = await call(admin.base, "POST", "/api/v1/login", null, {
      username: "admin",
      password: admin.password,
    });
    assert.equal(good.status, 200);
  });

  test("every /api/v1 route but login needs a valid bearer token", async () => {
    const paths = ["/node", "/clients", "/sessions", "/subscriptions", "/retained", "/stats"];
    for (const path of [...paths, "/config", "/openapi.json", "/clients/x"]) {
      for (const token of [null, "not-a-token", "a".repeat(43)]) {
        const reply = await call(admin.base, "GET", `/api/v1${path}`, token);
        assert.equal(reply.status, 401, `${path} with ${token}`);
        assert.equal(reply.body.code, "RMQ_ERR_ADMIN_UNAUTHORIZED");
      }
    }
    const basic = await call(admin.base, "GET", "/api/v1/node", null, undefined, {
      authorization: `Basic ${Buffer.from(`admin:${admin.password}`).toString("base64")}`,
    });
    assert.equal(basic.status, 401);
  });

  test("GET /api/v1/node: identity, roles, version and both listeners", async () => {
    const reply = await get("/api/v1/node");
    assert.equal(reply.status, 200);
    assert.equal(reply.body.clusterName, "robustmq");
    assert.equal(reply.body.brokerId, 1);
    assert.deepEqual(reply.body.roles, ["meta", "broker", "engine"]);
    const listeners = reply.body.listeners as Record<string, { port: number }>;
    assert.equal(listeners.mqtt.port, broker.port);
    assert.equal(listeners.admin.port, Number(new URL(admin.base).port));
  });

  test("GET /api/v1/config is the effective config with the password redacted", async () => {
    const reply = await get("/api/v1/config");
    assert.equal(reply.status, 200);
    assert.equal(reply.body.data_dir, broker.dataDir);
    const section = reply.body.admin as Record<string, unknown>;
    assert.equal(section.password, "<redacted>");
    assert.equal(section.username, "admin");
    assert.ok(!JSON.stringify(reply.body).includes(admin.password));
  });

  test("clients: a connected mqtt.js client with the right fields, filters and paging", async () => {
    const clientId = uniqueName("adm-c");
    const client = track.mqtt(
      await connectMqtt(broker.url, {
        clientId,
        protocolVersion: 5,
        keepalive: 30,
        username: "alice",
        properties: { sessionExpiryInterval: 60 },
      }),
    );
    await client.subscribeAsync("adm/clients/#", { qos: 1 });
    const list = (await get(`/api/v1/clients?clientId=${clientId}`)).body as unknown as ListBody;
    assert.equal(list.meta.total, 1);
    const view = list.data[0];
    assert.equal(view.clientId, clientId);
    assert.equal(view.username, "alice");
    assert.equal(view.connected, true);
    assert.equal(view.protocolVersion, 5);
    assert.equal(view.keepAliveS, 30);
    assert.equal(view.sessionExpiryIntervalS, 60);
    assert.equal(view.subscriptionsCount, 1);
    assert.equal(view.inflightCount, 0);
    assert.equal(view.queuedCount, 0);
    assert.match(String(view.remoteAddress), /127\.0\.0\.1:\d+$/);
    assert.ok(Date.now() - Date.parse(String(view.connectedAt)) < 60_000);
    const one = await get(`/api/v1/clients/${encodeURIComponent(clientId)}`);
    assert.deepEqual(one.body, view);
    const byUser = (await get("/api/v1/clients?username=alice")).body as unknown as ListBody;
    assert.ok(byUser.data.some((c) => c.clientId === clientId));
    const offline = (await get("/api/v1/clients?connected=false")).body as unknown as ListBody;
    assert.ok(!offline.data.some((c) => c.clientId === clientId));
    const missing = await get("/api/v1/clients/no-such-client");
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, "RMQ_ERR_ADMIN_NOT_FOUND");
  });

  test("clients: limit and offset page through a sorted list", async () => {
    const prefix = uniqueName("adm-page");
    for (let i = 0; i < 3; i++) {
      track.mqtt(await connectMqtt(broker.url, { clientId: `${prefix}-${i}`, username: prefix }));
    }
    const first = (await get(`/api/v1/clients?username=${prefix}&limit=2`))
      .body as unknown as ListBody;
    assert.deepEqual(
      first.data.map((c) => c.clientId),
      [`${prefix}-0`, `${prefix}-1`],
    );
    assert.deepEqual(first.meta, { total: 3, offset: 0, limit: 2, nextOffset: 2 });
    const second = (await get(`/api/v1/clients?username=${prefix}&limit=2&offset=2`))
      .body as unknown as ListBody;
    assert.deepEqual(
      second.data.map((c) => c.clientId),
      [`${prefix}-2`],
    );
    assert.equal(second.meta.nextOffset, null);
  });

  test("kick: the v5 client gets DISCONNECT 0x98 and its session stays", async () => {
    const clientId = uniqueName("adm-kick");
    const client = track.mqtt(
      await connectMqtt(broker.url, {
        clientId,
        protocolVersion: 5,
        clean: false,
        properties: { sessionExpiryInterval: 300 },
      }),
    );
    await client.subscribeAsync("adm/kick", { qos: 1 });
    const disconnected = new Promise<IDisconnectPacket>((resolve) =>
      client.once("disconnect", resolve),
    );
    const reply = await call(admin.base, "DELETE", `/api/v1/clients/${clientId}`, admin.token);
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body, { clientId, kicked: true });
    const packet = await withTimeout(disconnected, WAIT_TIMEOUT_MS, "DISCONNECT after kick");
    assert.equal(packet.reasonCode, 0x98);
    await eventually(
      async () => (await get(`/api/v1/clients/${clientId}`)).body.connected === false,
      "offline",
    );
    const sessions = (await get(`/api/v1/sessions?clientId=${clientId}`))
      .body as unknown as ListBody;
    assert.equal(sessions.meta.total, 1);
    const session = sessions.data[0];
    assert.equal(session.connected, false);
    assert.equal(session.expiryIntervalS, 300);
    assert.equal(session.subscriptionsCount, 1);
    const expiresInMs = Date.parse(String(session.expiresAt)) - Date.now();
    assert.ok(expiresInMs > 290_000 && expiresInMs <= 300_000, `expires in ${expiresInMs} ms`);
    const again = await call(admin.base, "DELETE", `/api/v1/clients/${clientId}`, admin.token);
    assert.equal(again.status, 404);
  });

  test("kick: an MQTT 3.1.1 client is disconnected", async () => {
    const clientId = uniqueName("adm-kick3");
    const client = track.mqtt(await connectMqtt(broker.url, { clientId, protocolVersion: 4 }));
    const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
    const reply = await call(admin.base, "DELETE", `/api/v1/clients/${clientId}`, admin.token);
    assert.equal(reply.status, 200);
    await withTimeout(closed, WAIT_TIMEOUT_MS, "close after kick");
  });

  test("subscriptions: listed per client with their options, filterable", async () => {
    const clientId = uniqueName("adm-sub");
    const client = track.mqtt(await connectMqtt(broker.url, { clientId, protocolVersion: 5 }));
    await client.subscribeAsync({
      "adm/sub/a": { qos: 1, nl: true },
      "$share/g1/adm/sub/b": { qos: 2 },
    });
    const list = (await get(`/api/v1/subscriptions?clientId=${clientId}`))
      .body as unknown as ListBody;
    assert.equal(list.meta.total, 2);
    const byFilter = new Map(list.data.map((s) => [s.filter, s]));
    assert.equal(byFilter.get("adm/sub/a")?.qos, 1);
    assert.equal(byFilter.get("adm/sub/a")?.noLocal, true);
    assert.equal(byFilter.get("adm/sub/a")?.shareGroup, null);
    assert.equal(byFilter.get("$share/g1/adm/sub/b")?.shareGroup, "g1");
    assert.equal(byFilter.get("$share/g1/adm/sub/b")?.qos, 2);
    const filtered = (await get("/api/v1/subscriptions?filter=adm%2Fsub%2Fa"))
      .body as unknown as ListBody;
    assert.ok(filtered.data.length >= 1);
    assert.ok(filtered.data.every((s) => s.filter === "adm/sub/a"));
  });

  test("retained: list with a filter, preview, delete by URL-encoded topic", async () => {
    const root = uniqueName("adm-ret");
    const client = track.mqtt(await connectMqtt(broker.url));
    await client.publishAsync(`${root}/a/b`, "hello", { qos: 1, retain: true });
    await client.publishAsync(`${root}/big`, Buffer.alloc(1000, 7), { qos: 0, retain: true });
    await client.publishAsync(`${root}/a/b2`, "x", { qos: 1, retain: true });
    const path = `/api/v1/retained?filter=${encodeURIComponent(`${root}/#`)}`;
    await eventually(
      async () => ((await get(path)).body as unknown as ListBody).meta.total === 3,
      "3 retained",
    );
    const list = (await get(path)).body as unknown as ListBody;
    assert.deepEqual(
      list.data.map((r) => r.topic),
      [`${root}/a/b`, `${root}/a/b2`, `${root}/big`],
    );
    const hello = list.data[0];
    assert.equal(hello.qos, 1);
    assert.equal(hello.payloadBytes, 5);
    assert.equal(Buffer.from(String(hello.payloadPreview), "base64").toString(), "hello");
    assert.equal(hello.previewTruncated, false);
    assert.equal(list.data[2].payloadBytes, 1000);
    assert.equal(list.data[2].previewTruncated, true);
    assert.ok(Buffer.from(String(list.data[2].payloadPreview), "base64").length < 1000);

    const topic = encodeURIComponent(`${root}/a/b`);
    const deleted = await call(admin.base, "DELETE", `/api/v1/retained/${topic}`, admin.token);
    assert.equal(deleted.status, 200);
    assert.deepEqual(deleted.body, { topic: `${root}/a/b`, deleted: true });
    const after = (await get(path)).body as unknown as ListBody;
    assert.deepEqual(
      after.data.map((r) => r.topic),
      [`${root}/a/b2`, `${root}/big`],
    );
    const again = await call(admin.base, "DELETE", `/api/v1/retained/${topic}`, admin.token);
    assert.equal(again.status, 404);
    // A new subscriber no longer receives the deleted message.
    const probe = track.mqtt(await connectMqtt(broker.url));
    const received: string[] = [];
    probe.on("message", (t) => received.push(t));
    await probe.subscribeAsync(`${root}/a/+`, { qos: 1 });
    await eventually(async () => received.length >= 1, "retained a/b2");
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(received, [`${root}/a/b2`]);
  });

  test("GET /api/v1/stats has the BrokerStats counters", async () => {
    const reply = await get("/api/v1/stats");
    assert.equal(reply.status, 200);
    const counters = reply.body.counters as Record<string, number>;
    for (const name of ["connects", "disconnects", "messagesIn", "messagesOut", "bytesIn"]) {
      assert.equal(typeof counters[name], "number", name);
    }
    assert.ok(counters.connects >= 1);
    assert.equal(typeof reply.body.connections, "number");
    assert.equal(typeof reply.body.retained, "number");
  });

  test("GET /api/v1/openapi.json is valid JSON listing the routes", async () => {
    const response = await fetch(`${admin.base}/api/v1/openapi.json`, {
      headers: { authorization: `Bearer ${admin.token}` },
    });
    assert.equal(response.status, 200);
    const doc = JSON.parse(await response.text()) as { openapi: string; paths: object };
    assert.match(doc.openapi, /^3\./);
    const paths = Object.keys(doc.paths);
    for (const path of [
      "/health",
      "/metrics",
      "/api/v1/login",
      "/api/v1/node",
      "/api/v1/clients",
      "/api/v1/clients/{clientId}",
      "/api/v1/sessions",
      "/api/v1/subscriptions",
      "/api/v1/retained",
      "/api/v1/retained/{topic}",
      "/api/v1/stats",
      "/api/v1/config",
      "/api/v1/storage/mqtt",
      "/api/v1/kafka/topics",
      "/api/v1/kafka/topics/{name}",
      "/api/v1/users",
      "/api/v1/acl",
      "/api/v1/kafka/acl",
      "/api/v1/banned",
    ]) {
      assert.ok(paths.includes(path), `${path} missing from ${paths.join(", ")}`);
    }
    assert.ok(!paths.some((p) => /blacklist/.test(p)), "no routes for what is not built");
  });

  test("GET /api/v1/storage/mqtt: the message log grows with a message for an offline session", async () => {
    const before = await get("/api/v1/storage/mqtt");
    assert.equal(before.status, 200);
    assert.equal(before.body.fsyncPolicy, "always");
    const topic = uniqueName("admin/storage");
    const clientId = uniqueName("offline");
    const options = { clientId, clean: false, protocolVersion: 5 as const };
    const sub = track.mqtt(
      await connectMqtt(broker.url, { ...options, properties: { sessionExpiryInterval: 60 } }),
    );
    await sub.subscribeAsync(topic, { qos: 1 });
    await sub.endAsync();
    const pub = track.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    await pub.publishAsync(topic, "kept", { qos: 1 });
    const after = await get("/api/v1/storage/mqtt");
    assert.ok(Number(after.body.logEndOffset) > Number(before.body.logEndOffset));
    assert.ok(Number(after.body.sizeBytes) > Number(before.body.sizeBytes));
    assert.ok(Number(after.body.persistentSessions) >= 1);
    const segments = after.body.segments as Array<Record<string, number>>;
    assert.ok(segments.length >= 1);
    assert.equal(segments.at(-1)?.nextOffset, after.body.logEndOffset);
  });

  test("GET /api/v1/kafka/topics and /kafka/topics/:name after a raw CreateTopics", async () => {
    const name = `admin-${Date.now()}`;
    const client = await WireClient.connect(broker.kafkaPort ?? 0);
    try {
      await createTopic(client, name, 2);
    } finally {
      client.close();
    }
    const list = await get("/api/v1/kafka/topics");
    assert.equal(list.status, 200);
    const topics = list.body as unknown as Array<Record<string, unknown>>;
    assert.equal(topics.find((t) => t.name === name)?.partitions, 2);
    const one = await get(`/api/v1/kafka/topics/${name}`);
    assert.equal(one.status, 200);
    assert.equal((one.body.partitionLogs as unknown[]).length, 2);
    assert.equal((await get("/api/v1/kafka/topics/no-such-topic")).status, 404);
  });

  test("GET /api/v1/kafka/groups: committed offsets and lag against the log end", async () => {
    const topic = `lag-${Date.now()}`;
    const client = await WireClient.connect(broker.kafkaPort ?? 0);
    try {
      await createTopic(client, topic);
      const records = Array.from({ length: 5 }, (_, i) => ({
        timestamp: Date.now(),
        key: null,
        value: Buffer.from(`r${i}`),
      }));
      const produced = await client.request(ApiKey.Produce, 8, {
        transactionalId: null,
        acks: -1,
        timeoutMs: 5000,
        topicData: [
          { name: topic, partitionData: [{ index: 0, records: buildRecordBatch(records) }] },
        ],
      });
      assert.equal(produced.responses[0].partitionResponses[0].errorCode, 0);
      // A standalone consumer's commit (no group membership): generation -1, no member id.
      const committed = await client.request(ApiKey.OffsetCommit, 7, {
        groupId: "lag-readers",
        generationIdOrMemberEpoch: -1,
        memberId: "",
        groupInstanceId: null,
        topics: [
          {
            name: topic,
            partitions: [
              {
                partitionIndex: 0,
                committedOffset: 2n,
                committedLeaderEpoch: -1,
                committedMetadata: null,
              },
            ],
          },
        ],
      });
      assert.equal(committed.topics[0].partitions[0].errorCode, 0);
    } finally {
      client.close();
    }
    const reply = await get("/api/v1/kafka/groups");
    assert.equal(reply.status, 200);
    const groups = reply.body as unknown as Array<Record<string, unknown>>;
    const group = groups.find((g) => g.groupId === "lag-readers");
    assert.equal(group?.lag, 3);
    assert.deepEqual(group?.partitions, [
      { topic, partition: 0, committedOffset: 2, logEndOffset: 5, lag: 3 },
    ]);
  });

  test("DELETE /api/v1/kafka/groups/:id and `ctl kafka groups delete`: 200, 409 with members, 404", async () => {
    const client = await WireClient.connect(broker.kafkaPort ?? 0);
    try {
      await createTopic(client, "admin-kafka");
      const committed = await client.request(ApiKey.OffsetCommit, 7, {
        groupId: "doomed-readers",
        generationIdOrMemberEpoch: -1,
        memberId: "",
        topics: [{ name: "admin-kafka", partitions: [{ partitionIndex: 0, committedOffset: 1n }] }],
      });
      assert.equal(committed.topics[0].partitions[0].errorCode, 0);
      const joined = await client.request(ApiKey.JoinGroup, 0, {
        groupId: "live-readers",
        sessionTimeoutMs: 30_000,
        memberId: "",
        protocolType: "consumer",
        protocols: [{ name: "range", metadata: Buffer.from("m") }],
      });
      assert.equal(joined.errorCode, 0);
      const del = (id: string) =>
        call(admin.base, "DELETE", `/api/v1/kafka/groups/${id}`, admin.token);
      const live = await del("live-readers");
      assert.deepEqual([live.status, live.body.code], [409, "RMQ_ERR_ADMIN_CONFLICT"]);
      const ctl = await runCtl([
        "--server",
        admin.base,
        "--token",
        admin.token,
        "kafka",
        "groups",
        "delete",
        "doomed-readers",
      ]);
      assert.equal(ctl.status, 0, ctl.stderr);
      assert.match(ctl.stdout, /deleted\s+true/);
      const ids = (
        (await get("/api/v1/kafka/groups")).body as unknown as Array<{ groupId: string }>
      ).map((g) => g.groupId);
      assert.ok(ids.includes("live-readers") && !ids.includes("doomed-readers"), ids.join());
      const again = await del("doomed-readers");
      assert.deepEqual([again.status, again.body.code], [404, "RMQ_ERR_ADMIN_NOT_FOUND"]);
    } finally {
      client.close();
    }
  });
});

describe("/metrics", () => {
  let broker: BrokerProcess;
  let admin: Admin;
  const track = new ClientTracker();
  before(async () => {
    broker = await startBroker();
    admin = await adminOf(broker);
  });
  afterEach(() => track.closeAll());
  after(() => broker.stop());

  async function scrape(): Promise<string> {
    const response = await fetch(`${admin.base}/metrics`);
    assert.equal(response.status, 200);
    assert.match(String(response.headers.get("content-type")), /^text\/plain/);
    return response.text();
  }

  test("is open and has broker and Node metrics", async () => {
    const text = await scrape();
    for (const name of [
      "robustmq_connections",
      "robustmq_connects_total",
      "robustmq_disconnects_total",
      "robustmq_messages_received_total",
      "robustmq_messages_sent_total",
      "robustmq_bytes_received_total",
      "robustmq_bytes_sent_total",
      "robustmq_inflight_messages",
      "robustmq_queued_messages",
      "robustmq_retained_messages",
      "robustmq_subscriptions",
      "robustmq_protocol_errors_total",
      "robustmq_auth_failures_by_reason_total",
      "robustmq_kafka_log_bytes",
      "robustmq_kafka_log_segments",
      "process_resident_memory_bytes",
      "nodejs_eventloop_lag_seconds",
      "nodejs_heap_size_used_bytes",
    ]) {
      assert.match(text, new RegExp(`^${name}(\\{[^}]*\\})? `, "m"), `${name} missing`);
    }
    for (const reason of ["slow_consumer", "queue_full", "expired", "offline", "too_large"]) {
      assert.equal(sample(text, `robustmq_messages_dropped_total{reason="${reason}"}`), 0);
    }
    assert.equal(sample(text, 'robustmq_messages_dropped_total{reason="not_authorized"}'), 0);
    assert.equal(sample(text, 'robustmq_messages_dropped_total{reason="payload_format"}'), 0);
    assert.doesNotMatch(text, /^robustmq_bridge_/m, "no bridge metrics without [bridge] rules");
  });

  test("values move after connecting, subscribing and publishing", async () => {
    const before = await scrape();
    const subscriber = track.mqtt(await connectMqtt(broker.url));
    await subscriber.subscribeAsync("metrics/t", { qos: 1 });
    const publisher: MqttClient = track.mqtt(await connectMqtt(broker.url));
    let got = 0;
    subscriber.on("message", () => got++);
    for (let i = 0; i < 5; i++) await publisher.publishAsync("metrics/t", "m", { qos: 1 });
    await publisher.publishAsync("metrics/retained", "r", { qos: 1, retain: true });
    await eventually(async () => got === 5, "5 deliveries");
    const now = await scrape();
    const delta = (series: string) => sample(now, series) - sample(before, series);
    assert.equal(delta("robustmq_connects_total"), 2);
    assert.equal(sample(now, "robustmq_connections"), 2);
    assert.equal(delta("robustmq_messages_received_total"), 6);
    assert.equal(delta("robustmq_messages_sent_total"), 5);
    assert.equal(delta('robustmq_messages_received_by_qos_total{qos="1"}'), 6);
    assert.equal(delta('robustmq_messages_received_by_qos_total{qos="0"}'), 0);
    assert.equal(delta('robustmq_messages_sent_by_qos_total{qos="1"}'), 5);
    assert.ok(delta("robustmq_bytes_received_total") > 0);
    assert.ok(delta("robustmq_bytes_sent_total") > 0);
    assert.equal(sample(now, "robustmq_retained_messages"), 1);
    assert.equal(sample(now, "robustmq_subscriptions"), 1);
    await track.closeAll();
    await eventually(async () => sample(await scrape(), "robustmq_connections") === 0, "0 conns");
    const closed = await scrape();
    assert.equal(sample(closed, "robustmq_disconnects_total"), 2);
    const byReason = DISCONNECT_REASONS.map((reason) =>
      sample(closed, `robustmq_disconnects_by_reason_total{reason="${reason}"}`),
    );
    assert.equal(
      byReason.reduce((a, b) => a + b, 0),
      2,
      "every disconnect has one reason",
    );
  });

  test("storage write/fsync and Kafka request timings are histograms", async () => {
    const before = await scrape();
    // A persistent session's QoS 1 message is appended (and fsynced) to the MQTT log.
    const clientId = uniqueName("metrics-io");
    const durable = { clientId, protocolVersion: 5 as const, clean: false };
    const sub = track.mqtt(
      await connectMqtt(broker.url, { ...durable, properties: { sessionExpiryInterval: 60 } }),
    );
    await sub.subscribeAsync("metrics/io", { qos: 1 });
    const pub = track.mqtt(await connectMqtt(broker.url));
    await pub.publishAsync("metrics/io", "x", { qos: 1 });
    const client = await WireClient.connect(broker.kafkaPort ?? 0);
    try {
      await createTopic(client, `metrics-io-${Date.now()}`);
    } finally {
      client.close();
    }
    const now = await scrape();
    // A labelled series appears with its first observation.
    const value = (text: string, series: string) =>
      text.includes(`\n${series} `) ? sample(text, series) : 0;
    const delta = (series: string) => value(now, series) - value(before, series);
    assert.ok(delta("robustmq_storage_write_seconds_count") >= 1);
    assert.ok(delta("robustmq_storage_fsync_seconds_count") >= 1);
    assert.ok(delta('robustmq_kafka_request_duration_seconds_count{api="CreateTopics"}') >= 1);
    assert.match(now, /^robustmq_storage_fsync_seconds_bucket\{le="0.001"\} \d+$/m);
  });

  test("a message to an offline session's queue shows in robustmq_queued_messages", async () => {
    const clientId = uniqueName("metrics-q");
    const sub = await connectMqtt(broker.url, {
      clientId,
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: 60 },
    });
    await sub.subscribeAsync("metrics/q", { qos: 1 });
    await sub.endAsync();
    const publisher = track.mqtt(await connectMqtt(broker.url));
    await publisher.publishAsync("metrics/q", "1", { qos: 1 });
    await publisher.publishAsync("metrics/q", "2", { qos: 1 });
    await eventually(
      async () => sample(await scrape(), "robustmq_queued_messages") === 2,
      "queued",
    );
    const sessions = await call(
      admin.base,
      "GET",
      `/api/v1/sessions?clientId=${clientId}`,
      admin.token,
    );
    assert.equal((sessions.body as unknown as ListBody).data[0].queuedCount, 2);
  });
});

describe("bad input changes nothing", () => {
  let broker: BrokerProcess;
  let admin: Admin;
  const track = new ClientTracker();
  before(async () => {
    broker = await startBroker();
    admin = await adminOf(broker);
  });
  afterEach(() => track.closeAll());
  after(() => broker.stop());

  const badQueries: Array<[string, RegExp]> = [
    ["/api/v1/clients?limit=0", /querystring\/limit must be >= 1/],
    ["/api/v1/clients?limit=1001", /querystring\/limit must be <= 1000/],
    ["/api/v1/clients?limit=ten", /querystring\/limit must be integer/],
    ["/api/v1/clients?offset=-1", /querystring\/offset must be >= 0/],
    ["/api/v1/clients?connected=maybe", /querystring\/connected must be boolean/],
    ["/api/v1/clients?clientid=x", /querystring\/clientid is not allowed/],
    ["/api/v1/sessions?limit=2000", /querystring\/limit/],
    ["/api/v1/subscriptions?filter=", /querystring\/filter/],
    ["/api/v1/retained?filter=a%2F%23%2Fb", /querystring\/filter "a\/#\/b" is not a valid/],
  ];
  for (const [path, message] of badQueries) {
    test(`400 for GET ${path}`, async () => {
      const reply = await call(admin.base, "GET", path, admin.token);
      assert.equal(reply.status, 400, JSON.stringify(reply.body));
      assert.equal(reply.body.code, "RMQ_ERR_ADMIN_INVALID_REQUEST");
      assert.match(String(reply.body.message), message);
    });
  }

  const badBodies: Array<[string, unknown, RegExp]> = [
    ["missing password", { username: "admin" }, /body\/password is required/],
    [
      "unknown field",
      { username: "admin", password: "x", role: "root" },
      /body\/role is not allowed/,
    ],
    ["wrong type", { username: "admin", password: { a: 1 } }, /body\/password must be string/],
    ["not JSON", "{username:", /JSON/i],
  ];
  for (const [what, body, message] of badBodies) {
    test(`400 for a login body with ${what}`, async () => {
      const reply = await call(admin.base, "POST", "/api/v1/login", null, body);
      assert.equal(reply.status, 400, JSON.stringify(reply.body));
      assert.equal(reply.body.code, "RMQ_ERR_ADMIN_INVALID_REQUEST");
      assert.match(String(reply.body.message), message);
    });
  }

  test("413 for an oversized body, 404 for unknown routes", async () => {
    const big = { username: "admin", password: "p".repeat(70 * 1024) };
    const tooLarge = await call(admin.base, "POST", "/api/v1/login", null, big);
    assert.equal(tooLarge.status, 413);
    assert.equal(tooLarge.body.code, "RMQ_ERR_ADMIN_BODY_TOO_LARGE");
    for (const path of ["/api/v1/blacklist", "/api/v1/acl/rules/x", "/nope"]) {
      const reply = await call(admin.base, "GET", path, admin.token);
      assert.equal(reply.status, 404, path);
      assert.equal(reply.body.code, "RMQ_ERR_ADMIN_NOT_FOUND");
    }
  });

  test("rejected kicks and deletes leave the client and the retained message alone", async () => {
    const clientId = uniqueName("adm-bad");
    const client = track.mqtt(await connectMqtt(broker.url, { clientId, protocolVersion: 5 }));
    await client.publishAsync("adm/bad/keep", "kept", { qos: 1, retain: true });
    const topic = encodeURIComponent("adm/bad/keep");
    for (const token of [null, "wrong"]) {
      const kick = await call(admin.base, "DELETE", `/api/v1/clients/${clientId}`, token);
      assert.equal(kick.status, 401);
      const del = await call(admin.base, "DELETE", `/api/v1/retained/${topic}`, token);
      assert.equal(del.status, 401);
    }
    const badTopic = await call(admin.base, "DELETE", "/api/v1/retained/a%2B", admin.token);
    assert.equal(badTopic.status, 400);
    const oversized = await call(
      admin.base,
      "DELETE",
      `/api/v1/clients/${clientId}`,
      admin.token,
      "x".repeat(70 * 1024),
      { "content-type": "text/plain" },
    );
    assert.ok(oversized.status === 413 || oversized.status === 415, String(oversized.status));
    assert.equal(client.connected, true);
    const shown = await call(admin.base, "GET", `/api/v1/clients/${clientId}`, admin.token);
    assert.equal(shown.body.connected, true);
    const retained = await call(
      admin.base,
      "GET",
      "/api/v1/retained?filter=adm%2Fbad%2F%23",
      admin.token,
    );
    assert.equal((retained.body as unknown as ListBody).meta.total, 1);
  });
});

describe("configured credentials", () => {
  test("admin.password and metrics_auth from the config file", async () => {
    const broker = await startBroker({
      config: '[admin]\nusername = "ops"\npassword = "s3cret-pass"\nmetrics_auth = true\n',
    });
    try {
      const line = await broker.waitForLog((l) => l.listener === "admin", 15_000);
      const base = `http://127.0.0.1:${String(line.address).split(":").pop()}`;
      assert.ok(!broker.logs.some((l) => typeof l.password === "string"), "no generated password");
      assert.ok(!existsSync(join(broker.dataDir, "admin", "credentials.json")));
      const admin = await call(base, "POST", "/api/v1/login", null, {
        username: "admin",
        password: "s3cret-pass",
      });
      assert.equal(admin.status, 401);
      const ops = await call(base, "POST", "/api/v1/login", null, {
        username: "ops",
        password: "s3cret-pass",
      });
      assert.equal(ops.status, 200);
      const open = await fetch(`${base}/metrics`);
      assert.equal(open.status, 401);
      await open.text();
      const authed = await fetch(`${base}/metrics`, {
        headers: { authorization: `Bearer ${String(ops.body.token)}` },
      });
      assert.equal(authed.status, 200);
      assert.match(await authed.text(), /robustmq_connections/);
    } finally {
      await broker.stop();
    }
  });

  test("a generated password is reused by the next start on the same data_dir", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "rmq-admin-"));
    try {
      const first = await startBroker({ args: ["--data-dir", dataDir] });
      const admin = await adminOf(first).finally(() => first.stop());
      const second = await startBroker({ args: ["--data-dir", dataDir] });
      try {
        const again = await adminOf(second, admin.password);
        assert.ok(again.token.length > 0);
        assert.ok(!second.logs.some((l) => typeof l.password === "string"), "generated again");
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("/metrics: auth failures, drops, Kafka logs and the bridge", () => {
  const USER = "metrics-user";
  const PASSWORD = "metrics-Pass-1";
  const TO_KAFKA = "metrics-bridged";
  const FROM_KAFKA = "metrics-from-kafka";
  let broker: BrokerProcess;
  let admin: Admin;
  const track = new ClientTracker();
  before(async () => {
    broker = await startBroker({
      config:
        '[mqtt_auth]\nallow_anonymous = false\nauthenticators = ["built_in"]\n' +
        // Batches over 1 KiB are refused by the Kafka logs: a bigger bridged message fails.
        "[kafka]\nmessage_max_bytes = 1024\nallow_anonymous = true\n" +
        "[bridge]\n" +
        `mqtt_to_kafka = [ { mqtt_filter = "bridge/out/#", kafka_topic = "${TO_KAFKA}" } ]\n` +
        `kafka_to_mqtt = [ { kafka_topic = "${FROM_KAFKA}", mqtt_topic = "bridge/in/{key}" } ]\n`,
    });
    admin = await adminOf(broker);
    const added = await call(admin.base, "POST", "/api/v1/users", admin.token, {
      username: USER,
      password: PASSWORD,
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
  });
  afterEach(() => track.closeAll());
  after(() => broker.stop());

  async function scrape(): Promise<string> {
    const response = await fetch(`${admin.base}/metrics`);
    assert.equal(response.status, 200);
    return response.text();
  }
  const login = { username: USER, password: PASSWORD };
  const refused = (options: Parameters<typeof connectMqtt>[1]) =>
    assert.rejects(connectMqtt(broker.url, options));

  test("auth failures are counted by reason, and the reasons sum to the total", async () => {
    const before = await scrape();
    await refused({});
    await refused({ username: USER, password: "wrong" });
    await refused({ username: "nobody", password: "x" });
    await refused({
      ...login,
      protocolVersion: 5,
      properties: { authenticationMethod: "NO-SUCH-METHOD" },
    });
    track.mqtt(await connectMqtt(broker.url, login));
    const now = await scrape();
    const delta = (series: string) => sample(now, series) - sample(before, series);
    const reason = (r: string) => delta(`robustmq_auth_failures_by_reason_total{reason="${r}"}`);
    assert.equal(reason("anonymous"), 1);
    assert.equal(reason("bad_credentials"), 2);
    assert.equal(reason("bad_method"), 1);
    assert.equal(reason("enhanced_auth"), 0);
    assert.equal(reason("error"), 0);
    assert.equal(delta("robustmq_auth_failures_total"), 4);
    const all = ["bad_credentials", "anonymous", "bad_method", "enhanced_auth", "error"];
    assert.equal(
      all.reduce(
        (sum, r) => sum + sample(now, `robustmq_auth_failures_by_reason_total{reason="${r}"}`),
        0,
      ),
      sample(now, "robustmq_auth_failures_total"),
    );
  });

  test("a QoS 0 message for an offline session is dropped with reason offline", async () => {
    const clientId = uniqueName("metrics-drop");
    const durable = { ...login, clientId, protocolVersion: 5 as const, clean: false };
    const sub = await connectMqtt(broker.url, {
      ...durable,
      properties: { sessionExpiryInterval: 60 },
    });
    await sub.subscribeAsync("metrics/drop", { qos: 0 });
    await sub.endAsync();
    const before = await scrape();
    const pub = track.mqtt(await connectMqtt(broker.url, login));
    await pub.publishAsync("metrics/drop", "gone", { qos: 0 });
    const series = 'robustmq_messages_dropped_total{reason="offline"}';
    await eventually(
      async () => sample(await scrape(), series) - sample(before, series) === 1,
      "one offline drop",
    );
  });

  test("Kafka log bytes and segments follow topics and records", async () => {
    const before = await scrape();
    const client = await WireClient.connect(broker.kafkaPort ?? 0);
    try {
      await createTopic(client, uniqueName("metrics-log"), 3);
    } finally {
      client.close();
    }
    const created = await scrape();
    const segments = "robustmq_kafka_log_segments";
    assert.equal(sample(created, segments) - sample(before, segments), 3, "one per partition");
    const pub = track.mqtt(await connectMqtt(broker.url, login));
    await pub.publishAsync("bridge/out/size", "some bytes", { qos: 1 });
    const appended = await scrape();
    assert.ok(
      sample(appended, "robustmq_kafka_log_bytes") > sample(created, "robustmq_kafka_log_bytes"),
    );
  });

  test("bridge counters: forwarded each way, failed appends, skipped records", async () => {
    const before = await scrape();
    const series = (name: string, direction: string) => `${name}{direction="${direction}"}`;
    const forwardedToKafka = series("robustmq_bridge_messages_total", "mqtt_to_kafka");
    const forwardedToMqtt = series("robustmq_bridge_messages_total", "kafka_to_mqtt");
    const failedToKafka = series("robustmq_bridge_errors_total", "mqtt_to_kafka");
    const sub = track.mqtt(await connectMqtt(broker.url, login));
    await sub.subscribeAsync("bridge/in/#", { qos: 1 });
    const pub = track.mqtt(await connectMqtt(broker.url, login));
    await pub.publishAsync("bridge/out/a", "to kafka", { qos: 1 });
    // Over [kafka] message_max_bytes: the Kafka log refuses the append.
    await pub.publishAsync("bridge/out/big", Buffer.alloc(4096, 1), { qos: 0 });
    const client = await WireClient.connect(broker.kafkaPort ?? 0);
    try {
      await createTopic(client, FROM_KAFKA, 1);
      // Key "ok" makes bridge/in/ok; key "a/#" makes no valid topic name: skipped.
      const records = ["ok", "a/#"].map((key) => ({
        timestamp: Date.now(),
        key: Buffer.from(key),
        value: Buffer.from(`record ${key}`),
      }));
      const produced = await client.request(ApiKey.Produce, 8, {
        transactionalId: null,
        acks: -1,
        timeoutMs: 5000,
        topicData: [
          { name: FROM_KAFKA, partitionData: [{ index: 0, records: buildRecordBatch(records) }] },
        ],
      });
      assert.equal(produced.responses[0].partitionResponses[0].errorCode, 0);
    } finally {
      client.close();
    }
    let now = before;
    const delta = (name: string) => sample(now, name) - sample(before, name);
    await eventually(async () => {
      now = await scrape();
      return (
        delta(forwardedToMqtt) === 1 &&
        delta("robustmq_bridge_skipped_total") === 1 &&
        delta(failedToKafka) === 1
      );
    }, "the bridge's counters");
    assert.equal(delta(forwardedToKafka), 1);
    assert.equal(delta(series("robustmq_bridge_errors_total", "kafka_to_mqtt")), 0);
  });
});
