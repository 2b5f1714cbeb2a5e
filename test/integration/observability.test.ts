/**
 * Slow-subscription statistics, system alarms and payload schema validation against the real
 * broker process: a subscriber that acknowledges slowly is listed and a fast one is not; an
 * alarm raised and cleared through the thresholds route reaches `$SYS` subscribers; payloads
 * that fail a schema are refused with 0x99 (v5) or dropped (v3.1.1) and counted; the ctl
 * commands print all three.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ADMIN_CONFIG, ADMIN_PASSWORD, type AdminApi, adminApi } from "../helpers/admin-api.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { type CtlRun, runCtl } from "../helpers/ctl-cli.ts";
import {
  ClientTracker,
  connectMqtt,
  Inbox,
  uniqueName,
  withTimeout,
} from "../helpers/mqtt-clients.ts";
import { connectRaw } from "../helpers/raw-client.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MAIN = join(ROOT, "src/cli/main.ts");
const BROKER_ID = 9;
const SLOW_ACK_MS = 700;
const THRESHOLD_MS = 300;
const PAYLOAD_FORMAT_INVALID = 0x99;

const TEMPERATURE_SCHEMA = JSON.stringify({
  type: "object",
  properties: { celsius: { type: "number" } },
  required: ["celsius"],
});

const schemaDir = mkdtempSync(join(tmpdir(), "rmq-schema-"));
const schemaFile = join(schemaDir, "temperature.json");
writeFileSync(schemaFile, TEMPERATURE_SCHEMA);

// A check interval of an hour: the periodic check never runs during the test, so alarms come
// only from the thresholds route (which checks at once) and a busy CI machine cannot raise a
// CPU alarm of its own. The periodic path has its own broker below.
const CONFIG = `broker_id = ${BROKER_ID}
${ADMIN_CONFIG}[mqtt_slow_subs]
enable = true
threshold_ms = ${THRESHOLD_MS}
[mqtt_alarms]
check_interval_ms = 3600000
[mqtt_schema_validation]
rules = [
  { topic = "sensors/+/temp", schema_file = ${JSON.stringify(schemaFile)} },
  { topic = "cmd/#", schema = '{"type": "object", "required": ["op"]}' },
]
`;

let broker: BrokerProcess;
let api: AdminApi;
const clients = new ClientTracker();

before(async () => {
  broker = await startBroker({ config: CONFIG, logLevel: "info" });
  api = await adminApi(broker);
});
after(async () => {
  await clients.closeAll();
  assert.equal(await broker.stop(), 0);
  rmSync(schemaDir, { recursive: true, force: true });
});

function ctl(args: string[]): Promise<CtlRun> {
  const login = ["--server", api.base, "--username", "admin", "--password", ADMIN_PASSWORD];
  return runCtl([...login, ...args]);
}

async function metric(line: RegExp): Promise<number> {
  const text = await (await fetch(`${api.base}/metrics`)).text();
  const found = text.split("\n").find((l) => line.test(l));
  assert.ok(found !== undefined, `no ${line} in /metrics`);
  return Number(found.split(" ").pop());
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Item = Record<string, unknown>;

describe("slow subscriptions", () => {
  test("a subscriber that acks late is listed, a fast one is not; clear empties it", async () => {
    const topic = uniqueName("slow");
    const slowId = uniqueName("slow-sub");
    const fastId = uniqueName("fast-sub");
    const slowQos2Id = uniqueName("slow-sub-qos2");
    const { client: slow } = clients.raw(await connectRaw(broker.port, { clientId: slowId }));
    const { client: fast } = clients.raw(
      await connectRaw(broker.port, { clientId: fastId, version: 4 }),
    );
    const { client: slow2 } = clients.raw(await connectRaw(broker.port, { clientId: slowQos2Id }));
    await slow.subscribe([{ topicFilter: topic, qos: 1 }]);
    await fast.subscribe([{ topicFilter: topic, qos: 1 }]);
    await slow2.subscribe([{ topicFilter: topic, qos: 2 }]);
    const publisher = clients.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    await publisher.publishAsync(topic, "hello", { qos: 2 });

    const fastPublish = await fast.expect("publish");
    fast.send({ type: "puback", packetId: fastPublish.packetId as number, reasonCode: 0 });
    const slowPublish = await slow.expect("publish");
    // QoS 2: PUBREC at once, PUBCOMP late (latency runs to PUBCOMP).
    const qos2Publish = await slow2.expect("publish");
    slow2.send({ type: "pubrec", packetId: qos2Publish.packetId as number, reasonCode: 0 });
    const pubrel = await slow2.expect("pubrel");
    await delay(SLOW_ACK_MS);
    slow.send({ type: "puback", packetId: slowPublish.packetId as number, reasonCode: 0 });
    slow2.send({ type: "pubcomp", packetId: pubrel.packetId, reasonCode: 0 });
    await slow.drain();
    await slow2.drain();
    await fast.drain();

    const reply = await api.call("GET", "/api/v1/slow-subscriptions");
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body.enabled, true);
    assert.equal(reply.body.thresholdMs, THRESHOLD_MS);
    const data = reply.body.data as Item[];
    const mine = data.filter((e) => e.topic === topic);
    assert.deepEqual(mine.map((e) => e.clientId).sort(), [slowId, slowQos2Id].sort());
    for (const entry of mine) {
      assert.ok(Number(entry.latencyMs) >= SLOW_ACK_MS - 50, JSON.stringify(entry));
      assert.ok(Number(entry.latencyMs) < SLOW_ACK_MS + 4000, JSON.stringify(entry));
      assert.equal(entry.count, 1);
      assert.ok(!Number.isNaN(Date.parse(String(entry.lastSeenAt))));
    }
    const latencies = data.map((e) => Number(e.latencyMsMax));
    assert.deepEqual(
      latencies,
      [...latencies].sort((a, b) => b - a),
      "slowest first",
    );

    const table = await ctl(["slow-subs", "list"]);
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /^CLIENT ID\s+TOPIC\s+LATENCY \(MS\)/m);
    assert.match(table.stdout, new RegExp(`^${slowId}\\s+${topic}\\s+\\d+`, "m"));

    const cleared = await ctl(["slow-subs", "clear", "--output", "json"]);
    assert.equal(cleared.status, 0, cleared.stderr);
    assert.ok(Number(JSON.parse(cleared.stdout).cleared) >= 2);
    const empty = await api.call("GET", "/api/v1/slow-subscriptions");
    assert.deepEqual(empty.body.data, []);
  });
});

describe("alarms", () => {
  test("raised and cleared through the thresholds route, announced on $SYS", async () => {
    const watcher = clients.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    const sys = new Inbox(watcher);
    await watcher.subscribeAsync("$SYS/brokers/+/alarms/#", { qos: 0 });
    const initial = await api.call("GET", "/api/v1/alarms");
    assert.equal(initial.status, 200);
    assert.equal(initial.body.enabled, true);
    assert.deepEqual(initial.body.active, []);
    assert.equal((initial.body.watermarks as Item).memory_high_watermark, 0.8);

    // A millionth of total memory: any process is above it.
    const raise = { memory_high_watermark: 0.000001, memory_low_watermark: 0.0000005 };
    const raised = await api.call("PUT", "/api/v1/alarms/thresholds", raise);
    assert.equal(raised.status, 200, JSON.stringify(raised.body));
    const active = raised.body.active as Item[];
    assert.deepEqual(
      active.map((a) => a.name),
      ["high_process_memory_usage"],
    );
    const activate = await sys.waitForTopic(`$SYS/brokers/${BROKER_ID}/alarms/activate`);
    assert.equal(activate.packet.retain, false);
    const event = JSON.parse(activate.payload.toString()) as Item;
    assert.equal(event.name, "high_process_memory_usage");
    assert.equal(event.event, "activate");
    assert.equal(event.brokerId, BROKER_ID);
    assert.ok(Number((event.details as Item).memoryBytes) > 0);
    assert.equal(await metric(/^robustmq_alarms_active /), 1);
    const warned = await broker.waitForLog((l) =>
      String(l.msg).startsWith("alarm: process memory"),
    );
    assert.equal(warned.level, "warn");

    const listed = await ctl(["alarms", "list"]);
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(listed.stdout, /^active:\n.*NAME[\s\S]*high_process_memory_usage/m);

    const restore = { memory_high_watermark: 0.8, memory_low_watermark: 0.7 };
    const cleared = await api.call("PUT", "/api/v1/alarms/thresholds", restore);
    assert.equal(cleared.status, 200, JSON.stringify(cleared.body));
    assert.deepEqual(cleared.body.active, []);
    const deactivate = await sys.waitForTopic(`$SYS/brokers/${BROKER_ID}/alarms/deactivate`);
    const gone = JSON.parse(deactivate.payload.toString()) as Item;
    assert.equal(gone.name, "high_process_memory_usage");
    assert.ok(typeof gone.deactivatedAt === "string");
    const after = await api.call("GET", "/api/v1/alarms");
    assert.equal(((after.body.history as Item[])[0] as Item).name, "high_process_memory_usage");
    assert.equal(await metric(/^robustmq_alarms_active /), 0);
  });

  test("the thresholds route refuses bad watermarks", async () => {
    const cases: unknown[] = [
      { memory_low_watermark: 0.9 }, // above the high watermark (0.8)
      { cpu_high_watermark: 2 },
      { cpu_high_watermark: 0 },
      { memory_high_watermark: "0.5" },
      { colour: 1 },
      {},
    ];
    for (const body of cases) {
      const reply = await api.call("PUT", "/api/v1/alarms/thresholds", body);
      assert.equal(reply.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(reply.body)}`);
      assert.equal(reply.body.code, "RMQ_ERR_ADMIN_INVALID_REQUEST");
    }
    const state = await api.call("GET", "/api/v1/alarms");
    assert.equal((state.body.watermarks as Item).memory_low_watermark, 0.7, "unchanged");
  });
});

describe("payload schema validation", () => {
  test("v5: invalid payloads refused with 0x99, valid and unmatched ones delivered", async () => {
    const base = uniqueName("v5");
    const subscriber = clients.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    const inbox = new Inbox(subscriber);
    await subscriber.subscribeAsync(["sensors/#", "cmd/#", `free/${base}`], { qos: 1 });
    const droppedBefore = await metric(
      /^robustmq_messages_dropped_total\{reason="schema_invalid"\}/,
    );
    const publisherId = uniqueName("schema-pub");
    const { client } = clients.raw(await connectRaw(broker.port, { clientId: publisherId }));
    const temp = `sensors/${base}/temp`;
    const expectAck = async (type: "puback" | "pubrec", reasonCode: number, what: string) => {
      const ack = await client.expect(type);
      assert.equal(ack.reasonCode, reasonCode, what);
      if (type === "pubrec") {
        if (reasonCode < 0x80) {
          client.send({ type: "pubrel", packetId: ack.packetId, reasonCode: 0 });
          await client.expect("pubcomp");
        }
      }
    };
    client.publish(temp, JSON.stringify({ celsius: 20 }), { qos: 1 });
    await expectAck("puback", 0, "valid");
    client.publish(temp, "{not json", { qos: 1 });
    await expectAck("puback", PAYLOAD_FORMAT_INVALID, "not JSON");
    client.publish(temp, JSON.stringify({ kelvin: 293 }), { qos: 1 });
    await expectAck("puback", PAYLOAD_FORMAT_INVALID, "schema violation");
    client.publish(temp, JSON.stringify({ celsius: "warm" }), { qos: 2 });
    await expectAck("pubrec", PAYLOAD_FORMAT_INVALID, "QoS 2 schema violation");
    client.publish(temp, Buffer.from([0xff, 0xfe]), { qos: 0 }); // dropped silently
    client.publish(`cmd/${base}`, JSON.stringify({ arg: 1 }), { qos: 1 });
    await expectAck("puback", PAYLOAD_FORMAT_INVALID, "second rule");
    client.publish(`cmd/${base}`, JSON.stringify({ op: "reboot" }), { qos: 2 });
    await expectAck("pubrec", 0, "second rule, valid");
    client.publish(`free/${base}`, "not json at all", { qos: 1 });
    await expectAck("puback", 0, "no rule matches");
    client.publish(temp, JSON.stringify({ celsius: 21 }), { qos: 0 });

    await inbox.waitFor(4);
    await client.drain();
    const received = inbox.messages.map((m) => `${m.topic} ${m.payload.toString()}`);
    assert.deepEqual(received, [
      `${temp} {"celsius":20}`,
      `cmd/${base} {"op":"reboot"}`,
      `free/${base} not json at all`,
      `${temp} {"celsius":21}`,
    ]);
    const dropped = await metric(/^robustmq_messages_dropped_total\{reason="schema_invalid"\}/);
    assert.equal(dropped - droppedBefore, 5);
    const refusals = broker.logs.filter(
      (l) =>
        l.msg === "publish refused: payload fails schema validation" && l.clientId === publisherId,
    );
    assert.equal(refusals.length, 1, "only the first refusal of a connection is logged at info");
    assert.match(String(refusals[0].problem), /payload is not JSON/);
  });

  test("v3.1.1: invalid payloads are acknowledged and dropped", async () => {
    const base = uniqueName("v311");
    const temp = `sensors/${base}/temp`;
    const subscriber = clients.mqtt(await connectMqtt(broker.url, { protocolVersion: 4 }));
    const inbox = new Inbox(subscriber);
    await subscriber.subscribeAsync(temp, { qos: 1 });
    const publisher = clients.mqtt(await connectMqtt(broker.url, { protocolVersion: 4 }));
    await publisher.publishAsync(temp, JSON.stringify({ nope: true }), { qos: 1 });
    await publisher.publishAsync(temp, "garbage", { qos: 2 });
    await publisher.publishAsync(temp, JSON.stringify({ celsius: 5 }), { qos: 1 });
    const [first] = await inbox.waitFor(1);
    assert.equal(first.payload.toString(), '{"celsius":5}');
    // The publisher's later QoS 1 came through, so nothing else is on its way.
    assert.equal(inbox.messages.length, 1);
  });

  test("GET /api/v1/schema-validation and ctl list the rules", async () => {
    const reply = await api.call("GET", "/api/v1/schema-validation");
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body, {
      enabled: true,
      rules: [
        { index: 0, topic: "sensors/+/temp", source: "file", schemaFile },
        { index: 1, topic: "cmd/#", source: "inline", schemaFile: null },
      ],
    });
    const run = await ctl(["schema-validation", "list"]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^1\s+cmd\/#\s+inline/m);
  });
});

describe("start-up", () => {
  test("an unreadable schema file stops the start, naming the key and the file", async () => {
    const missing = join(schemaDir, "missing.json");
    const configFile = join(schemaDir, "bad.toml");
    writeFileSync(
      configFile,
      `[mqtt_schema_validation]\nrules = [{ topic = "a", schema_file = ${JSON.stringify(missing)} }]\n`,
    );
    const dataDir = join(schemaDir, "data");
    const args = [MAIN, "start", "--config", configFile, "--data-dir", dataDir];
    args.push("--mqtt-port", "0", "--http-port", "0", "--kafka-port", "0", "--ws-port", "0");
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const status = await withTimeout(
      new Promise<number | null>((resolve) => child.on("close", resolve)),
      20_000,
      "the broker to stop",
    );
    // A configuration error like any other: exit 2, on stderr, before data_dir is created.
    assert.equal(status, 2, `${stdout}${stderr}`);
    assert.equal(stdout, "");
    assert.match(stderr, /^error RMQ_ERR_CONFIG_INVALID: invalid configuration/);
    assert.equal(existsSync(dataDir), false, "data_dir not created");
    const message = stderr;
    assert.ok(
      message.includes(`mqtt_schema_validation.rules[0].schema_file = "${missing}"`),
      message,
    );
    assert.match(message, /cannot read the schema file: no such file/);
  });

  test("the periodic check raises an alarm on its own", async () => {
    const config =
      "[mqtt_alarms]\ncheck_interval_ms = 100\n" +
      "memory_high_watermark = 0.000001\nmemory_low_watermark = 0.0000005\n";
    const other = await startBroker({ config: `${ADMIN_CONFIG}${config}`, logLevel: "info" });
    try {
      const line = await other.waitForLog((l) => String(l.msg).startsWith("alarm: process memory"));
      assert.equal(line.level, "warn");
      const otherApi = await adminApi(other);
      const state = await otherApi.call("GET", "/api/v1/alarms");
      const names = (state.body.active as Item[]).map((a) => a.name);
      assert.ok(names.includes("high_process_memory_usage"), JSON.stringify(state.body));
    } finally {
      assert.equal(await other.stop(), 0);
    }
  });
});
