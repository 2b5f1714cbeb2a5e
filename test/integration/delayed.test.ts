/**
 * Delayed publish (`$delayed/{seconds}/{topic}`) against the real broker process with mqtt.js
 * v5 and v3.1.1 clients: timing and properties, retain, malformed forms (0x90), the quota
 * (0x97), the ACL checked on the target topic, the admin list and delete, and a message that
 * survives a `kill -9`.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { open } from "lmdb";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { ackCode } from "../helpers/ack-codes.ts";
import { ADMIN_CONFIG, ADMIN_PASSWORD, type AdminApi, adminApi } from "../helpers/admin-api.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { type CtlRun, runCtl } from "../helpers/ctl-cli.ts";
import {
  ClientTracker,
  connectMqtt,
  Inbox,
  uniqueName,
  WAIT_TIMEOUT_MS,
} from "../helpers/mqtt-clients.ts";
import { connectRaw } from "../helpers/raw-client.ts";

/**
 * The broker counts a delay from when it read the PUBLISH, which is after the test's clock
 * read; Node's timers and Date.now() may still disagree by a millisecond or two.
 */
const CLOCK_SLACK_MS = 5;

/** Records when each message arrived. */
function arrivals(client: MqttClient): Map<string, number> {
  const at = new Map<string, number>();
  client.on("message", (topic) => {
    if (!at.has(topic)) at.set(topic, Date.now());
  });
  return at;
}

interface DelayedItem {
  id: string;
  topic: string;
  qos: number;
  retain: boolean;
  payloadBytes: number;
  publishedAtMs: number;
  dueAtMs: number;
  clientId: string;
}

/** Only `d/...` topics are allowed: the ACL is written for real topics, never `$delayed/`. */
const ACL_CONFIG =
  '[mqtt_acl]\nno_match = "deny"\nrules = [{ permission = "allow", action = "all", topic = "d/#" }]\n';

async function listDelayed(api: AdminApi, query = ""): Promise<DelayedItem[]> {
  const reply = await api.call("GET", `/api/v1/delayed${query}`);
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  return reply.body.data as DelayedItem[];
}

async function counters(api: AdminApi): Promise<Record<string, number>> {
  const reply = await api.call("GET", "/api/v1/stats");
  assert.equal(reply.status, 200);
  return reply.body.counters as Record<string, number>;
}

/** `robustmq ctl ...` logged in as the admin: exit status and standard output. */
function ctl(api: AdminApi, args: string[]): Promise<CtlRun> {
  const login = ["--server", api.base, "--username", "admin", "--password", ADMIN_PASSWORD];
  return runCtl([...login, ...args]);
}

async function connect(broker: BrokerProcess, clients: ClientTracker, options: IClientOptions) {
  return clients.mqtt(await connectMqtt(broker.url, options));
}

describe("delayed publish", () => {
  let broker: BrokerProcess;
  let api: AdminApi;
  const clients = new ClientTracker();
  before(async () => {
    broker = await startBroker({
      logLevel: "info",
      config: `${ADMIN_CONFIG}${ACL_CONFIG}[mqtt_delayed]\nmax_messages = 3\nmax_delay_s = 3600\n`,
    });
    api = await adminApi(broker);
  });
  after(async () => {
    await clients.closeAll();
    await broker.stop();
  });

  test("v5: arrives after the delay, not before, with its properties", async () => {
    const topic = `d/${uniqueName("v5")}`;
    const sub = await connect(broker, clients, { protocolVersion: 5 });
    const at = arrivals(sub);
    const inbox = new Inbox(sub);
    await sub.subscribeAsync(topic, { qos: 1 });
    const pub = await connect(broker, clients, { protocolVersion: 5 });
    const sentAtMs = Date.now();
    const code = await ackCode(pub, `$delayed/1/${topic}`, "later", {
      qos: 1,
      properties: {
        contentType: "text/plain",
        responseTopic: "reply/here",
        correlationData: Buffer.from([7, 8, 9]),
        userProperties: { origin: "delayed-test" },
        messageExpiryInterval: 60,
      },
    });
    assert.equal(code, 0);
    const [got] = await inbox.waitFor(1, (m) => m.topic === topic, 3000);
    const elapsedMs = (at.get(topic) as number) - sentAtMs;
    assert.ok(elapsedMs >= 1000 - CLOCK_SLACK_MS, `arrived after ${elapsedMs} ms`);
    assert.equal(got.payload.toString(), "later");
    assert.equal(got.packet.qos, 1);
    assert.equal(got.packet.retain, false);
    const props = got.packet.properties ?? {};
    assert.equal(props.contentType, "text/plain");
    assert.equal(props.responseTopic, "reply/here");
    assert.deepEqual(props.correlationData, Buffer.from([7, 8, 9]));
    assert.deepEqual({ ...props.userProperties }, { origin: "delayed-test" });
    // Counted from the original publish: about a second of the 60 is gone.
    const expiry = props.messageExpiryInterval as number;
    assert.ok(expiry >= 58 && expiry <= 59, `message expiry ${expiry}`);
    assert.deepEqual(await listDelayed(api), [], "published: no longer waiting");
  });

  test("v3.1.1 and QoS 0/2: each arrives after its delay at its QoS", async () => {
    const base = `d/${uniqueName("v3")}`;
    const sub = await connect(broker, clients, { protocolVersion: 4 });
    const at = arrivals(sub);
    const inbox = new Inbox(sub);
    await sub.subscribeAsync(`${base}/#`, { qos: 2 });
    const pub = await connect(broker, clients, { protocolVersion: 4 });
    const sentAtMs = Date.now();
    for (const qos of [0, 1, 2] as const) {
      await ackCode(pub, `$delayed/1/${base}/q${qos}`, `qos ${qos}`, { qos });
    }
    const got = await inbox.waitFor(3, () => true, 3000);
    for (const message of got) {
      const elapsedMs = (at.get(message.topic) as number) - sentAtMs;
      assert.ok(elapsedMs >= 1000 - CLOCK_SLACK_MS, `${message.topic} after ${elapsedMs} ms`);
      assert.equal(message.packet.qos, Number(message.topic.slice(-1)));
    }
    assert.deepEqual(
      got.map((m) => m.topic).sort(),
      [0, 1, 2].map((q) => `${base}/q${q}`),
    );
  });

  test("the retain flag is honoured once published", async () => {
    const topic = `d/${uniqueName("retain")}`;
    const pub = await connect(broker, clients, { protocolVersion: 5 });
    assert.equal(await ackCode(pub, `$delayed/1/${topic}`, "kept", { retain: true }), 0);
    const early = await connect(broker, clients, { protocolVersion: 5 });
    const earlyInbox = new Inbox(early);
    await early.subscribeAsync(topic, { qos: 1 });
    // Nothing retained yet: the message is still waiting.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(earlyInbox.messages, []);
    await earlyInbox.waitFor(1, () => true, 3000);
    const late = await connect(broker, clients, { protocolVersion: 5 });
    const lateInbox = new Inbox(late);
    await late.subscribeAsync(topic, { qos: 1 });
    const [retained] = await lateInbox.waitFor(1);
    assert.equal(retained.packet.retain, true);
    assert.equal(retained.payload.toString(), "kept");
  });

  test("malformed forms: v5 0x90, v3 dropped; counted, logged once per connection", async () => {
    const before = (await counters(api)).delayedInvalid;
    const sub = await connect(broker, clients, { protocolVersion: 5 });
    const inbox = new Inbox(sub);
    await sub.subscribeAsync("d/bad/#", { qos: 1 });
    const clientId = uniqueName("bad");
    const v5 = await connect(broker, clients, { protocolVersion: 5, clientId });
    const bad = [
      "$delayed/x/d/bad/a",
      "$delayed/-1/d/bad/a",
      "$delayed/1.5/d/bad/a",
      "$delayed/3601/d/bad/a", // above max_delay_s
      "$delayed//d/bad/a",
      "$delayed/1/",
      "$delayed/1",
      "$delayed/1/$delayed/1/d/bad/a",
    ];
    for (const topic of bad) assert.equal(await ackCode(v5, topic), 0x90, topic);
    assert.equal(await ackCode(v5, "$delayed/x/d/bad/b", "x", { qos: 2 }), 0x90);
    const v3 = await connect(broker, clients, { protocolVersion: 4 });
    assert.equal(await ackCode(v3, "$delayed/x/d/bad/c"), 0, "v3: plain PUBACK");
    await ackCode(v3, "$delayed/x/d/bad/d", "x", { qos: 0 });
    await v3.publishAsync("d/bad/after", "x", { qos: 1 }); // the connection still works
    await inbox.waitFor(1, (m) => m.topic === "d/bad/after");
    await new Promise((resolve) => setTimeout(resolve, 1200));
    assert.deepEqual(inbox.payloads(), ["x"], "nothing malformed was published");
    assert.equal((await counters(api)).delayedInvalid - before, bad.length + 3);
    const logged = broker.logs.filter(
      (l) => l.msg === "malformed delayed publish dropped" && l.clientId === clientId,
    );
    assert.equal(logged.length, 1);
    assert.equal(logged[0].level, "info");
  });

  test("the ACL applies to the target topic; $delayed/N/$SYS/... is refused", async () => {
    const sub = await connect(broker, clients, { protocolVersion: 5 });
    const inbox = new Inbox(sub);
    await sub.subscribeAsync("d/acl", { qos: 1 });
    const pub = await connect(broker, clients, { protocolVersion: 5 });
    assert.equal(await ackCode(pub, "$delayed/1/d/acl", "allowed"), 0);
    assert.equal(await ackCode(pub, "$delayed/1/other", "refused"), 0x87);
    assert.equal(await ackCode(pub, "$delayed/1/$SYS/brokers/x", "refused"), 0x87);
    assert.equal((await listDelayed(api)).length, 1);
    const [got] = await inbox.waitFor(1, () => true, 3000);
    assert.equal(got.payload.toString(), "allowed");
  });

  test("beyond max_messages: v5 0x97, v3 dropped; the admin API deletes", async () => {
    const topic = `d/${uniqueName("quota")}`;
    const sub = await connect(broker, clients, { protocolVersion: 5 });
    const inbox = new Inbox(sub);
    await sub.subscribeAsync(topic, { qos: 1 });
    const clientId = uniqueName("quota-pub");
    const v5 = await connect(broker, clients, { protocolVersion: 5, clientId });
    for (const n of [1, 2, 3]) {
      assert.equal(await ackCode(v5, `$delayed/2/${topic}`, `m${n}`), 0);
    }
    assert.equal(await ackCode(v5, `$delayed/2/${topic}`, "m4"), 0x97);
    const v3 = await connect(broker, clients, { protocolVersion: 4 });
    assert.equal(await ackCode(v3, `$delayed/2/${topic}`, "m5"), 0, "v3: plain PUBACK");
    assert.equal((await counters(api)).delayedQuotaExceeded, 2);

    const waiting = await listDelayed(api, `?topic=${encodeURIComponent(topic)}`);
    assert.equal(waiting.length, 3);
    const [first] = waiting;
    assert.equal(first.topic, topic);
    assert.equal(first.qos, 1);
    assert.equal(first.retain, false);
    assert.equal(first.payloadBytes, 2);
    assert.equal(first.clientId, clientId);
    assert.equal(first.dueAtMs - first.publishedAtMs, 2000);
    assert.deepEqual(await listDelayed(api, "?limit=1&offset=1"), [waiting[1]]);
    const stats = await api.call("GET", "/api/v1/stats");
    assert.equal(stats.body.delayed, 3);

    const deleted = await api.call("DELETE", `/api/v1/delayed/${waiting[1].id}`);
    assert.deepEqual(deleted.body, { id: waiting[1].id, deleted: true });
    const again = await api.call("DELETE", `/api/v1/delayed/${waiting[1].id}`);
    assert.equal(again.status, 404);
    assert.equal((await api.call("DELETE", "/api/v1/delayed/not-a-number")).status, 400);
    // Room for one more now.
    assert.equal(await ackCode(v5, `$delayed/1/${topic}`, "m6"), 0);
    const got = await inbox.waitFor(3, () => true, 4000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(inbox.payloads().sort(), ["m1", "m3", "m6"], "the deleted one never arrives");
    assert.equal(got.length, 3);
  });

  test("robustmq ctl delayed list and delete", async () => {
    const topic = `d/${uniqueName("ctl")}`;
    const pub = await connect(broker, clients, { protocolVersion: 5 });
    assert.equal(await ackCode(pub, `$delayed/600/${topic}`, "via ctl"), 0);
    const table = await ctl(api, ["delayed", "list", "--topic", topic]);
    assert.equal(table.status, 0);
    const [header, row] = table.stdout.split("\n");
    assert.match(header, /^ID\s+TOPIC\s+QOS\s+RETAIN\s+BYTES\s+FROM\s+PUBLISHED AT\s+DUE AT$/);
    const [id, shownTopic, qos] = row.split(/\s+/);
    assert.deepEqual([shownTopic, qos], [topic, "1"]);
    const deleted = await ctl(api, ["delayed", "delete", id, "--output", "json"]);
    assert.deepEqual(JSON.parse(deleted.stdout), { id, deleted: true });
    assert.deepEqual(await listDelayed(api), []);
  });

  test("the gauge and counters are in /metrics", async () => {
    const response = await fetch(`${api.base}/metrics`);
    const text = await response.text();
    assert.match(text, /^robustmq_delayed_messages 0$/m);
    assert.match(text, /^robustmq_delayed_published_total \d+$/m);
    assert.match(text, /^robustmq_delayed_quota_exceeded_total 2$/m);
  });
});

describe("delayed publish across a crash", () => {
  let broker: BrokerProcess;
  // Ours, not the helper's: stopping a broker removes a data directory it made itself.
  const dataDir = mkdtempSync(join(tmpdir(), "rmq-delayed-"));
  const clients = new ClientTracker();
  before(async () => {
    broker = await startBroker({ logLevel: "info", config: ADMIN_CONFIG, dataDir });
  });
  after(async () => {
    await clients.closeAll();
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("a stored message is published by the restarted broker", async () => {
    const topic = `d/${uniqueName("crash")}`;
    const subscriberId = uniqueName("durable-sub");
    const durable = { protocolVersion: 5 as const, clientId: subscriberId, clean: false };
    const sessionOptions = { ...durable, properties: { sessionExpiryInterval: 300 } };
    const first = await connectMqtt(broker.url, sessionOptions);
    await first.subscribeAsync(topic, { qos: 1 });
    await first.endAsync();

    const pub = await connectMqtt(broker.url, { protocolVersion: 5 });
    const sentAtMs = Date.now();
    assert.equal(await ackCode(pub, `$delayed/2/${topic}`, "survivor"), 0);
    pub.end(true);
    // PUBACK came after the message was on disk: a kill -9 now must not lose it.
    const crashed = broker;
    await crashed.stop("SIGKILL");
    broker = await startBroker({ logLevel: "info", config: ADMIN_CONFIG, dataDir });
    await broker.waitForLog((l) => l.msg === "delayed messages loaded");

    // A new subscriber that connects before the message is due gets it too.
    const fresh = await connect(broker, clients, { protocolVersion: 5 });
    const freshInbox = new Inbox(fresh);
    await fresh.subscribeAsync(topic, { qos: 1 });
    const freshReadyAtMs = Date.now();

    // Overdue by now if the restart was slow: then it comes with the CONNACK, and mqtt.js
    // hands it over before connectAsync resolves. Listen first, then connect.
    const resumed = clients.mqtt(
      mqtt.connect(broker.url, {
        reconnectPeriod: 0,
        connectTimeout: WAIT_TIMEOUT_MS,
        ...sessionOptions,
      }),
    );
    const at = arrivals(resumed);
    const inbox = new Inbox(resumed);
    const [got] = await inbox.waitFor(1, () => true, WAIT_TIMEOUT_MS);
    assert.equal(got.payload.toString(), "survivor");
    const elapsedMs = (at.get(topic) as number) - sentAtMs;
    assert.ok(elapsedMs >= 2000 - CLOCK_SLACK_MS, `arrived after ${elapsedMs} ms`);
    if (freshReadyAtMs < sentAtMs + 2000) {
      await freshInbox.waitFor(1, () => true, WAIT_TIMEOUT_MS);
    }
    const api = await adminApi(broker);
    assert.deepEqual(await listDelayed(api), []);
    // Taken off the store once published: nothing is left for a further restart.
    await clients.closeAll();
    assert.equal(await broker.stop(), 0);
    const env = open({ path: join(dataDir, "mqtt", "delayed"), readOnly: true, maxDbs: 4 });
    try {
      assert.equal(env.openDB({ name: "messages" }).getKeysCount(), 0);
    } finally {
      await env.close();
    }
  });

  test("QoS 2 from a persistent session: a resend after a kill -9 is not stored twice", async () => {
    await broker.stop(); // the last test's, if it still runs: one broker per data directory
    broker = await startBroker({ logLevel: "info", config: ADMIN_CONFIG, dataDir });
    const topic = `$delayed/300/d/${uniqueName("qos2-crash")}`;
    const session = {
      clientId: uniqueName("delayed-qos2"),
      cleanStart: false,
      properties: { sessionExpiryInterval: 300 },
    };
    const packetId = 9;
    const first = (await connectRaw(broker.port, session)).client;
    first.publish(topic, "once", { qos: 2, packetId });
    assert.equal((await first.expect("pubrec")).reasonCode, 0);
    first.destroy();
    // PUBREC came once the message and its packet id were on disk. The client may not have read
    // it: after the crash it resends the PUBLISH, which must be known as the same message.
    await broker.stop("SIGKILL");
    broker = await startBroker({ logLevel: "info", config: ADMIN_CONFIG, dataDir });
    const { client, connack } = await connectRaw(broker.port, session);
    try {
      assert.equal(connack.sessionPresent, true);
      client.publish(topic, "once", { qos: 2, packetId, dup: true });
      assert.equal((await client.expect("pubrec")).reasonCode, 0);
      client.send({ type: "pubrel", packetId, reasonCode: 0 });
      assert.equal((await client.expect("pubcomp")).reasonCode, 0, "the id was still held");
      const waiting = await listDelayed(await adminApi(broker));
      assert.deepEqual(
        waiting.map((m) => [m.clientId, m.qos]),
        [[session.clientId, 2]],
      );
    } finally {
      client.destroy();
    }
  });
});
