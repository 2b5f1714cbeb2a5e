/**
 * `$queue/` and `$exclusive/` subscriptions, topic rewrite and auto-subscribe against the real
 * broker process with mqtt.js clients (MQTT 5 and 3.1.1): load balancing over a `$queue/`
 * group, exclusive claims refused (0x97 / 0x80) and released, rewrites on PUBLISH and SUBSCRIBE
 * with capture groups and before the ACL, auto-subscriptions with %u / %c (ACL-denied ones
 * skipped), and rules added through the admin API in force at once and after a restart.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import mqtt, { type IClientOptions } from "mqtt";
import { ackCode, subscribeCodes } from "../helpers/ack-codes.ts";
import { ADMIN_CONFIG, ADMIN_PASSWORD, type AdminApi, adminApi } from "../helpers/admin-api.ts";
import { clientGone } from "../helpers/broker-logs.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { type CtlRun, runCtl } from "../helpers/ctl-cli.ts";
import {
  ClientTracker,
  connectMqtt,
  Inbox,
  uniqueName,
  WAIT_TIMEOUT_MS,
  waitUntil,
} from "../helpers/mqtt-clients.ts";

const QUOTA_EXCEEDED = 0x97;
const V3_FAILURE = 0x80;
const NOT_AUTHORIZED = 0x87;
const TOPIC_FILTER_INVALID = 0x8f;
/** How long a test waits to be sure a message does not arrive. */
const QUIET_MS = 300;

const CONFIG = `${ADMIN_CONFIG}
[mqtt_acl]
rules = [
  { permission = "deny", action = "all", topic = "forbidden/#" },
  { permission = "deny", action = "subscribe", topic = "auto/denied/#" },
]

[mqtt_topic_rewrite]
rules = [
  { action = "publish", source_topic = "old/#", re = "^old/(.+)$", dest_topic = "new/$1" },
  { action = "subscribe", source_topic = "alias/+/+", re = "^alias/([^/]+)/([^/]+)$", dest_topic = "real/$2/$1" },
  { action = "all", source_topic = "hidden/#", re = "^hidden/(.+)$", dest_topic = "forbidden/$1" },
  { action = "publish", source_topic = "forbidden/ok/#", re = "^forbidden/ok/(.+)$", dest_topic = "allowed/$1" },
]

[mqtt_auto_subscribe]
rules = [
  { topic = "auto/%c/in", qos = 1 },
  { topic = "auto/user/%u", qos = 1 },
  { topic = "auto/denied/%c" },
]
`;

/**
 * Connects with an inbox listening from the start: auto-subscribed messages may arrive in the
 * same read as the CONNACK, before connectMqtt's promise lets a test attach one.
 */
async function connectWithInbox(url: string, options: IClientOptions) {
  const client = mqtt.connect(url, {
    reconnectPeriod: 0,
    connectTimeout: WAIT_TIMEOUT_MS,
    clientId: uniqueName("auto"),
    ...options,
  });
  const inbox = new Inbox(client);
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", reject);
  });
  return { client, inbox };
}

/** Runs `robustmq ctl ... --output json` against the admin API at `server`. */
function ctl(server: string, token: string, args: string[]): Promise<CtlRun> {
  return runCtl([...args, "--server", server, "--token", token, "--output", "json"]);
}

async function quiet(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
}

describe("queue, exclusive, rewrite and auto-subscribe", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "rmq-topic-rules-"));
  let broker: BrokerProcess;
  let api: AdminApi;
  const clients = new ClientTracker();

  const connect = async (options: IClientOptions = {}) =>
    clients.mqtt(await connectMqtt(broker.url, { protocolVersion: 5, ...options }));

  before(async () => {
    broker = await startBroker({ config: CONFIG, dataDir, logLevel: "debug" });
    api = await adminApi(broker);
  });
  after(async () => {
    await clients.closeAll();
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("$queue/ spreads messages over its members, each to exactly one", async () => {
    const topic = uniqueName("jobs");
    const v5 = await connect();
    const v3 = await connect({ protocolVersion: 4 });
    const inboxes = [new Inbox(v5), new Inbox(v3)];
    assert.deepEqual(await subscribeCodes(v5, `$queue/${topic}`), [1]);
    assert.deepEqual(await subscribeCodes(v3, `$queue/${topic}`), [1]);
    const pub = await connect();
    const sent = Array.from({ length: 20 }, (_, i) => `job${i}`);
    for (const payload of sent) await pub.publishAsync(topic, payload, { qos: 1 });
    const total = () => inboxes.reduce((n, inbox) => n + inbox.messages.length, 0);
    await waitUntil(
      inboxes,
      () => total() >= sent.length,
      WAIT_TIMEOUT_MS,
      () => `${total()}`,
    );
    await quiet();
    const got = inboxes.map((inbox) => inbox.payloads(topic));
    assert.deepEqual([...got[0], ...got[1]].sort(), [...sent].sort(), "each exactly once");
    assert.ok(
      got[0].length > 0 && got[1].length > 0,
      `both members served: ${got.map((g) => g.length)}`,
    );
    // Unsubscribing with the $queue/ form leaves the group.
    await v3.unsubscribeAsync(`$queue/${topic}`);
    await pub.publishAsync(topic, "after", { qos: 1 });
    await inboxes[0].waitFor(1, (m) => m.payload.toString() === "after");
  });

  test("$exclusive/: one holder; others refused 0x97 (v5) / 0x80 (v3.1.1)", async () => {
    const filter = uniqueName("ex");
    const holder = await connect();
    const other = await connect();
    const v3 = await connect({ protocolVersion: 4 });
    assert.deepEqual(await subscribeCodes(holder, `$exclusive/${filter}`), [1]);
    assert.deepEqual(await subscribeCodes(holder, `$exclusive/${filter}`), [1], "again");
    assert.deepEqual(await subscribeCodes(other, `$exclusive/${filter}`), [QUOTA_EXCEEDED]);
    assert.deepEqual(await subscribeCodes(v3, `$exclusive/${filter}`), [V3_FAILURE]);
    // A plain subscription to the same filter is not exclusive and not refused.
    assert.deepEqual(await subscribeCodes(other, filter), [1]);
    const inbox = new Inbox(holder);
    const pub = await connect();
    await pub.publishAsync(filter, "to-holder", { qos: 1 });
    await inbox.waitForTopic(filter);

    // Released when the holder unsubscribes ($exclusive/ form).
    await holder.unsubscribeAsync(`$exclusive/${filter}`);
    assert.deepEqual(await subscribeCodes(v3, `$exclusive/${filter}`), [1]);
    assert.deepEqual(await subscribeCodes(holder, `$exclusive/${filter}`), [QUOTA_EXCEEDED]);

    // Released when its clean session ends with the connection.
    const gone = clientGone(broker, String(v3.options.clientId));
    await v3.endAsync();
    await gone;
    assert.deepEqual(await subscribeCodes(holder, `$exclusive/${filter}`), [1]);
  });

  test("PUBLISH rewrite: the rewritten topic's subscribers get it, the original's do not", async () => {
    const id = uniqueName("p");
    const sub = await connect();
    const inbox = new Inbox(sub);
    await sub.subscribeAsync([`new/${id}/#`, `old/${id}/#`], { qos: 1 });
    const pub = await connect({ protocolVersion: 4 });
    await pub.publishAsync(`old/${id}/a/b`, "moved", { qos: 1, retain: true });
    const [got] = await inbox.waitFor(1);
    assert.equal(got.topic, `new/${id}/a/b`, "capture group $1 holds several levels");
    await quiet();
    assert.deepEqual(inbox.payloads(`old/${id}/a/b`), []);
    // Retained under the rewritten topic.
    const late = await connect();
    const lateInbox = new Inbox(late);
    await late.subscribeAsync(`new/${id}/#`);
    assert.equal((await lateInbox.waitForTopic(`new/${id}/a/b`)).payload.toString(), "moved");
    await pub.publishAsync(`new/${id}/a/b`, "", { qos: 1, retain: true });
  });

  test("SUBSCRIBE rewrite with capture groups; UNSUBSCRIBE is rewritten the same way", async () => {
    const id = uniqueName("s").replaceAll("-", "_");
    const sub = await connect({ protocolVersion: 4 });
    const inbox = new Inbox(sub);
    assert.deepEqual(await subscribeCodes(sub, `alias/${id}/b`), [1]);
    const pub = await connect();
    await pub.publishAsync(`real/b/${id}`, "swapped", { qos: 1 });
    const got = await inbox.waitForTopic(`real/b/${id}`);
    assert.equal(got.payload.toString(), "swapped");
    await pub.publishAsync(`alias/${id}/b`, "not-this", { qos: 1 });
    await sub.unsubscribeAsync(`alias/${id}/b`);
    await pub.publishAsync(`real/b/${id}`, "after-unsubscribe", { qos: 1 });
    await quiet();
    assert.deepEqual(inbox.payloads(), ["swapped"]);
  });

  test("rewrite happens before the ACL: both ways", async () => {
    const id = uniqueName("acl");
    const client = await connect();
    const inbox = new Inbox(client);
    // hidden/... becomes forbidden/..., which the ACL denies.
    assert.equal(await ackCode(client, `hidden/${id}`), NOT_AUTHORIZED);
    assert.deepEqual(await subscribeCodes(client, `hidden/${id}`), [NOT_AUTHORIZED]);
    // forbidden/ok/... becomes allowed/..., which the ACL allows.
    await client.subscribeAsync(`allowed/${id}`, { qos: 1 });
    assert.equal(await ackCode(client, `forbidden/ok/${id}`), 0);
    assert.equal((await inbox.waitForTopic(`allowed/${id}`)).payload.toString(), "x");
  });

  test("auto-subscribe with %c and %u delivers without a SUBSCRIBE; ACL-denied rules skipped", async () => {
    const clientId = uniqueName("dev");
    const pub = await connect();
    await pub.publishAsync(`auto/${clientId}/in`, "retained-cmd", { qos: 1, retain: true });
    const { client: device, inbox } = await connectWithInbox(broker.url, {
      clientId,
      username: "alice",
      protocolVersion: 5,
    });
    clients.mqtt(device);
    const retained = await inbox.waitForTopic(`auto/${clientId}/in`);
    assert.equal(retained.packet.retain, true, "retained messages go out per retain_handling 0");
    await pub.publishAsync(`auto/${clientId}/in`, "", { qos: 1, retain: true });
    await pub.publishAsync("auto/user/alice", "for-alice", { qos: 1 });
    await pub.publishAsync(`auto/denied/${clientId}`, "denied", { qos: 1 });
    await inbox.waitForTopic("auto/user/alice");
    await quiet();
    assert.deepEqual(inbox.payloads(`auto/denied/${clientId}`), []);
    const listed = await api.call("GET", `/api/v1/subscriptions?clientId=${clientId}`);
    const filters = (listed.body.data as Array<{ filter: string }>).map((s) => s.filter).sort();
    assert.deepEqual(filters, [`auto/${clientId}/in`, "auto/user/alice"]);

    // A user name with '/' skips the %u rule; the %c rule still applies (v3.1.1 client).
    const { client: odd, inbox: oddInbox } = await connectWithInbox(broker.url, {
      username: "a/b",
      protocolVersion: 4,
    });
    clients.mqtt(odd);
    await pub.publishAsync(`auto/${String(odd.options.clientId)}/in`, "c-rule", { qos: 1 });
    await oddInbox.waitFor(1);
    const oddSubs = await api.call("GET", `/api/v1/subscriptions?clientId=${odd.options.clientId}`);
    assert.equal((oddSubs.body.data as unknown[]).length, 1);
  });

  test("the admin API lists, adds, applies at once, refuses bad rules and deletes", async () => {
    const sub = await connect();
    const listed = await api.call("GET", "/api/v1/topic-rewrite");
    assert.equal(listed.status, 200);
    const data = listed.body.data as Array<Record<string, unknown>>;
    assert.deepEqual(
      data.map((r) => [r.id, r.source]),
      [
        ["config-1", "config"],
        ["config-2", "config"],
        ["config-3", "config"],
        ["config-4", "config"],
      ],
    );
    const bad = await api.call("POST", "/api/v1/topic-rewrite", {
      action: "all",
      source_topic: "a/#",
      re: "^a/(.*)$",
      dest_topic: "b/$2",
    });
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.message), /refers to \$2/);
    const readOnly = await api.call("DELETE", "/api/v1/topic-rewrite/config-1");
    assert.equal(readOnly.status, 400);
    assert.equal((await api.call("DELETE", "/api/v1/auto-subscribe/api-nothing")).status, 404);

    const id = uniqueName("api");
    const added = await api.call("POST", "/api/v1/topic-rewrite", {
      action: "publish",
      source_topic: `api/${id}/#`,
      re: `^api/${id}/(.+)$`,
      dest_topic: `moved/${id}/$1`,
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal(added.body.source, "api");
    const autoAdded = await api.call("POST", "/api/v1/auto-subscribe", {
      topic: `auto-api/%c`,
      qos: 1,
    });
    assert.equal(autoAdded.status, 201, JSON.stringify(autoAdded.body));
    assert.equal(autoAdded.body.retain_handling, 0);

    const inbox = new Inbox(sub);
    await sub.subscribeAsync(`moved/${id}/#`, { qos: 1 });
    const pub = await connect();
    await pub.publishAsync(`api/${id}/x`, "api-rule", { qos: 1 });
    assert.equal((await inbox.waitFor(1))[0].topic, `moved/${id}/x`);
    await pub.publishAsync(`auto-api/${String(sub.options.clientId)}`, "nope", { qos: 1 });
    await quiet();
    assert.equal(inbox.messages.length, 1, "a connected client is not auto-subscribed later");
  });

  test("robustmq ctl rewrite|auto-subscribe list, add and delete", async () => {
    const login = await fetch(`${api.base}/api/v1/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "admin", password: ADMIN_PASSWORD }),
    });
    const { token } = (await login.json()) as { token: string };
    const run = (args: string[]) => ctl(api.base, token, args);
    const [added, auto] = await Promise.all([
      run(
        ["rewrite", "add", "--action", "subscribe", "--source-topic", "ctl/#"].concat([
          "--re",
          "^ctl/(.+)$",
          "--dest-topic",
          "ctl-moved/$1",
        ]),
      ),
      run(
        ["auto-subscribe", "add", "--topic", "$exclusive/ctl/%c", "--qos", "1"].concat([
          "--no-local",
          "--retain-handling",
          "2",
        ]),
      ),
    ]);
    assert.equal(added.status, 0, added.stderr);
    assert.equal(auto.status, 0, auto.stderr);
    const rule = JSON.parse(added.stdout) as { id: string; dest_topic: string };
    assert.equal(rule.dest_topic, "ctl-moved/$1");
    const autoRule = JSON.parse(auto.stdout) as Record<string, unknown>;
    assert.deepEqual(
      [autoRule.qos, autoRule.no_local, autoRule.retain_as_published, autoRule.retain_handling],
      [1, true, false, 2],
    );
    const [listed, deleted] = await Promise.all([
      run(["rewrite", "list"]),
      run(["auto-subscribe", "delete", String(autoRule.id)]),
    ]);
    const ids = (JSON.parse(listed.stdout).data as Array<{ id: string }>).map((r) => r.id);
    assert.equal(ids.at(-1), rule.id);
    assert.equal(deleted.status, 0, deleted.stderr);
    const [refused, removed] = await Promise.all([
      run(["rewrite", "delete", "config-1"]),
      run(["rewrite", "delete", rule.id]),
    ]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /RMQ_ERR_ADMIN_INVALID_REQUEST/);
    assert.equal(removed.status, 0, removed.stderr);
  });

  test("rules added through the API survive a restart, auto-subscriptions stored too", async () => {
    // A persistent session's auto-subscriptions are stored like a SUBSCRIBE's.
    const persistentId = uniqueName("persistent");
    const persistent = { clientId: persistentId, clean: false, protocolVersion: 5 as const };
    const first = await connect({ ...persistent, properties: { sessionExpiryInterval: 300 } });
    await first.endAsync();
    await clients.closeAll();
    await broker.stop();
    broker = await startBroker({ config: CONFIG, dataDir, logLevel: "debug" });
    api = await adminApi(broker);
    const rewrites = (await api.call("GET", "/api/v1/topic-rewrite")).body.data as Array<{
      source: string;
      source_topic: string;
    }>;
    assert.equal(rewrites.length, 5);
    assert.equal(rewrites[4].source, "api");
    const autos = (await api.call("GET", "/api/v1/auto-subscribe")).body.data as Array<{
      topic: string;
    }>;
    assert.deepEqual(
      autos.map((a) => a.topic),
      ["auto/%c/in", "auto/user/%u", "auto/denied/%c", "auto-api/%c"],
    );
    const prefix = rewrites[4].source_topic.slice(0, -2); // "api/<id>"
    const id = prefix.slice("api/".length);
    const sub = await connect();
    const inbox = new Inbox(sub);
    await sub.subscribeAsync(`moved/${id}/#`, { qos: 1 });
    const pub = await connect();
    await pub.publishAsync(`${prefix}/y`, "after-restart", { qos: 1 });
    assert.equal((await inbox.waitFor(1))[0].topic, `moved/${id}/y`);
    await pub.publishAsync(`auto-api/${String(sub.options.clientId)}`, "auto", { qos: 1 });
    await inbox.waitForTopic(`auto-api/${String(sub.options.clientId)}`);
    // Queued for the offline session through its restored auto-subscription.
    await pub.publishAsync(`auto/${persistentId}/in`, "while-offline", { qos: 1 });
    const { client: back, inbox: backInbox } = await connectWithInbox(broker.url, {
      ...persistent,
      properties: { sessionExpiryInterval: 300 },
    });
    clients.mqtt(back);
    const queued = await backInbox.waitForTopic(`auto/${persistentId}/in`);
    assert.equal(queued.payload.toString(), "while-offline");
    await quiet();
    assert.equal(backInbox.payloads(`auto/${persistentId}/in`).length, 1, "not twice");
  });
});

describe("$queue/ and $exclusive/ turned off", () => {
  let broker: BrokerProcess;
  const clients = new ClientTracker();

  before(async () => {
    broker = await startBroker({
      config: "[mqtt_subscriptions]\nexclusive_enable = false\nqueue_enable = false\n",
      logLevel: "info",
    });
  });
  after(async () => {
    await clients.closeAll();
    await broker.stop();
  });

  test("get 0x8F (v5) / 0x80 (v3.1.1) like any invalid filter", async () => {
    const v5 = clients.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    const v3 = clients.mqtt(await connectMqtt(broker.url, { protocolVersion: 4 }));
    assert.deepEqual(await subscribeCodes(v5, "$exclusive/a"), [TOPIC_FILTER_INVALID]);
    assert.deepEqual(await subscribeCodes(v5, "$queue/a"), [TOPIC_FILTER_INVALID]);
    assert.deepEqual(await subscribeCodes(v3, "$queue/a"), [V3_FAILURE]);
    assert.deepEqual(await subscribeCodes(v5, "$share/g/a"), [1], "shared ones still work");
  });
});

describe("$exclusive/ across a restart", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "rmq-exclusive-"));
  const clients = new ClientTracker();
  let broker: BrokerProcess;

  before(async () => {
    broker = await startBroker({ dataDir, logLevel: "info" });
  });
  after(async () => {
    await clients.closeAll();
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("a persistent session holds its exclusive claim again after the broker restarts", async () => {
    const filter = uniqueName("ex-restart");
    const holderId = uniqueName("ex-holder");
    const persistent = { protocolVersion: 5 as const, clean: false };
    const expiry = { properties: { sessionExpiryInterval: 3600 } };
    const holder = await connectMqtt(broker.url, { ...persistent, ...expiry, clientId: holderId });
    assert.deepEqual(await subscribeCodes(holder, `$exclusive/${filter}`), [1]);
    // Written as the plain filter, the subscription stays exclusive (it is the same one).
    assert.deepEqual(await subscribeCodes(holder, filter), [1]);
    await holder.endAsync();

    assert.equal(await broker.stop(), 0);
    broker = await startBroker({ dataDir, logLevel: "info" });
    const other = clients.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    assert.deepEqual(await subscribeCodes(other, `$exclusive/${filter}`), [QUOTA_EXCEEDED]);

    // The holder comes back to its session and lets go; then the other client gets it.
    const back = clients.mqtt(
      await connectMqtt(broker.url, { ...persistent, ...expiry, clientId: holderId }),
    );
    await back.unsubscribeAsync(`$exclusive/${filter}`);
    assert.deepEqual(await subscribeCodes(other, `$exclusive/${filter}`), [1]);
  });
});
