/**
 * The MQTT <-> Kafka bridge in the real broker process, with mqtt.js on the MQTT side and
 * kafkajs (producer, consumer group) plus raw Fetch requests on the Kafka side.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CompressionTypes, Kafka, logLevel } from "kafkajs";
import type { MqttClient } from "mqtt";
import { partitionForKey } from "../../src/bridge/partitioner.ts";
import type { LogRecord } from "../../src/storage/log/index.ts";
import { ackCode } from "../helpers/ack-codes.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { fetchRecords } from "../helpers/kafka-wire.ts";
import { ClientTracker, connectMqtt, Inbox, WAIT_TIMEOUT_MS } from "../helpers/mqtt-clients.ts";

const PARTITIONS = 3;
const KAFKA_MESSAGE_BYTES_MAX = 200_000;
const CONFIG = `
[kafka]
default_partitions = ${PARTITIONS}
# Under MQTT's max_packet_size (10 MiB): an MQTT message can be too large for Kafka.
message_max_bytes = ${KAFKA_MESSAGE_BYTES_MAX}

[[bridge.mqtt_to_kafka]]
mqtt_filter = "sensors/#"
kafka_topic = "mqtt-sensors"

[[bridge.mqtt_to_kafka]]
mqtt_filter = "big/#"
kafka_topic = "mqtt-big"

[[bridge.mqtt_to_kafka]]
mqtt_filter = "loop/#"
kafka_topic = "loop"

[[bridge.kafka_to_mqtt]]
kafka_topic = "commands"
mqtt_topic = "devices/{key}/commands"
qos = 1

[[bridge.kafka_to_mqtt]]
kafka_topic = "loop"
mqtt_topic = "loop-back/{key}"
qos = 1

[[bridge.kafka_to_mqtt]]
kafka_topic = "headers"
mqtt_topic = "hdr/{key}"
qos = 1
retain = true
`;

let broker: BrokerProcess;
let kafka: Kafka;
const tracker = new ClientTracker();

before(async () => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";
  broker = await startBroker({ config: CONFIG, logLevel: "info" });
  kafka = new Kafka({
    clientId: "bridge-test",
    brokers: [`127.0.0.1:${broker.kafkaPort}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 50 },
  });
});

after(async () => {
  await tracker.closeAll();
  assert.equal(await broker.stop(), 0);
});

/** Every record of a partition from offset 0, read with a raw Fetch. */
function records(topic: string, partition: number): Promise<LogRecord[]> {
  return fetchRecords(broker.kafkaPort ?? 0, topic, partition);
}

function header(record: LogRecord, key: string): string | undefined {
  return record.headers.find((h) => h.key === key)?.value?.toString();
}

describe("MQTT -> Kafka", () => {
  test("each message becomes one record: key = topic, headers = properties, partition by key", async () => {
    const pub: MqttClient = tracker.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    const topics = ["sensors/a/temp", "sensors/b/temp", "sensors/a/temp"];
    for (const [i, topic] of topics.entries()) {
      // PUBACK comes once the record is stored in Kafka.
      await pub.publishAsync(topic, `v${i}`, {
        qos: 1,
        properties: { userProperties: { unit: "C" }, contentType: "text/plain" },
      });
    }
    await pub.publishAsync("other/topic", "not bridged", { qos: 1 });
    const found = new Map<string, string[]>();
    for (let p = 0; p < PARTITIONS; p++) {
      for (const record of await records("mqtt-sensors", p)) {
        const key = String(record.key);
        assert.equal(p, partitionForKey(Buffer.from(key), PARTITIONS), "Kafka's partitioner");
        assert.equal(header(record, "unit"), "C");
        assert.equal(header(record, "mqtt.qos"), "1");
        assert.equal(header(record, "mqtt.retain"), "false");
        assert.equal(header(record, "mqtt.content_type"), "text/plain");
        found.set(key, [...(found.get(key) ?? []), String(record.value)]);
      }
    }
    assert.deepEqual(Object.fromEntries(found), {
      "sensors/a/temp": ["v0", "v2"],
      "sensors/b/temp": ["v1"],
    });
  });

  test("a kafkajs consumer group reads the bridged records with their headers", async () => {
    const consumer = kafka.consumer({ groupId: "bridge-readers", sessionTimeout: 10_000 });
    const seen: Array<{ key: string; value: string; unit: string }> = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: "mqtt-sensors", fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          seen.push({
            key: String(message.key),
            value: String(message.value),
            unit: String(message.headers?.unit),
          });
        },
      });
      const deadline = Date.now() + 20_000;
      while (seen.length < 3 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      await consumer.disconnect();
    }
    const sorted = seen.map((r) => `${r.key}=${r.value} ${r.unit}`).sort();
    assert.deepEqual(sorted, ["sensors/a/temp=v0 C", "sensors/a/temp=v2 C", "sensors/b/temp=v1 C"]);
  });
});

describe("Kafka -> MQTT", () => {
  test("records produced with kafkajs (gzip too) reach MQTT subscribers on the templated topic", async () => {
    const sub = tracker.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    const inbox = new Inbox(sub);
    await sub.subscribeAsync("devices/+/commands", { qos: 1 });
    const producer = kafka.producer();
    await producer.connect();
    try {
      // The topic is created by the first send, after the rule: read from its start.
      await producer.send({
        topic: "commands",
        messages: [{ key: "d1", value: "reboot", headers: { origin: "ops" } }],
      });
      await producer.send({
        topic: "commands",
        compression: CompressionTypes.GZIP,
        messages: [
          { key: "d2", value: "update" },
          { key: "d3", value: "stop" },
        ],
      });
    } finally {
      await producer.disconnect();
    }
    const got = await inbox.waitFor(3, () => true, WAIT_TIMEOUT_MS + 2000);
    const byTopic = Object.fromEntries(got.map((m) => [m.topic, m.payload.toString()]));
    assert.deepEqual(byTopic, {
      "devices/d1/commands": "reboot",
      "devices/d2/commands": "update",
      "devices/d3/commands": "stop",
    });
    const first = got.find((m) => m.topic === "devices/d1/commands");
    assert.deepEqual({ ...first?.packet.properties?.userProperties }, { origin: "ops" });
    assert.equal(first?.packet.qos, 1);
  });

  test("a message bridged to Kafka and back to MQTT is not sent to Kafka again", async () => {
    const sub = tracker.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    const inbox = new Inbox(sub);
    await sub.subscribeAsync("loop-back/#", { qos: 1 });
    const pub = tracker.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    await pub.publishAsync("loop/x", "once", { qos: 1 });
    const [back] = await inbox.waitFor(1, () => true, WAIT_TIMEOUT_MS + 2000);
    assert.equal(back.topic, "loop-back/loop/x");
    assert.equal(back.payload.toString(), "once");
    let total = 0;
    for (let p = 0; p < PARTITIONS; p++) total += (await records("loop", p)).length;
    assert.equal(total, 1, "one record: the bridged-back message was not appended again");
  });

  test("headers MQTT cannot carry are left out: no stuck partition, no resends, no poisoned retain", async () => {
    const v5 = tracker.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    const v3 = tracker.mqtt(await connectMqtt(broker.url, { protocolVersion: 4 }));
    const [v5Inbox, v3Inbox] = [new Inbox(v5), new Inbox(v3)];
    await v5.subscribeAsync("hdr/#", { qos: 1 });
    await v3.subscribeAsync("hdr/#", { qos: 1 });
    const producer = kafka.producer();
    await producer.connect();
    try {
      await producer.send({
        topic: "headers",
        messages: [{ key: "nul", value: "m1", headers: { bad: "a\u0000b", ok: "1" } }],
      });
      await producer.send({
        topic: "headers",
        messages: [{ key: "big", value: "m2", headers: { bad: "x".repeat(70_000) } }],
      });
      await producer.send({ topic: "headers", messages: [{ key: "after", value: "m3" }] });
    } finally {
      await producer.disconnect();
    }
    const got = await v5Inbox.waitFor(3, () => true, WAIT_TIMEOUT_MS + 2000);
    // Three partitions: keys "nul", "big" and "after" need not arrive in order.
    const byTopic = Object.fromEntries(got.map((m) => [m.topic, m]));
    assert.deepEqual(Object.keys(byTopic).sort(), ["hdr/after", "hdr/big", "hdr/nul"]);
    assert.deepEqual({ ...byTopic["hdr/nul"].packet.properties?.userProperties }, { ok: "1" });
    // A failed publish used to be retried every second: the 3.1.1 subscriber got copies.
    await v3Inbox.waitFor(3);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.deepEqual(v3Inbox.payloads().sort(), ["m1", "m2", "m3"]);
    assert.ok(v5.connected);
    // The retained messages reach a later MQTT 5 subscriber, which stays connected.
    const late = tracker.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    const lateInbox = new Inbox(late);
    await late.subscribeAsync("hdr/#", { qos: 1 });
    const retained = await lateInbox.waitFor(3);
    assert.deepEqual(retained.map((m) => m.payload.toString()).sort(), ["m1", "m2", "m3"]);
    assert.ok(late.connected);
  });
});

describe("client ids", () => {
  test("a client whose id is $bridge is bridged, and No Local does not hide Kafka records from it", async () => {
    const client = tracker.mqtt(
      await connectMqtt(broker.url, { protocolVersion: 5, clientId: "$bridge" }),
    );
    const inbox = new Inbox(client);
    await client.subscribeAsync("devices/nl/commands", { qos: 1, nl: true });
    assert.equal(await ackCode(client, "sensors/id-bridge", "from $bridge"), 0);
    const partition = partitionForKey(Buffer.from("sensors/id-bridge"), PARTITIONS);
    const appended = (await records("mqtt-sensors", partition)).filter(
      (r) => String(r.key) === "sensors/id-bridge",
    );
    assert.deepEqual(
      appended.map((r) => String(r.value)),
      ["from $bridge"],
    );
    const producer = kafka.producer();
    await producer.connect();
    try {
      await producer.send({ topic: "commands", messages: [{ key: "nl", value: "to $bridge" }] });
    } finally {
      await producer.disconnect();
    }
    const received = await inbox.waitForTopic("devices/nl/commands", WAIT_TIMEOUT_MS + 2000);
    assert.equal(received.payload.toString(), "to $bridge");
  });
});

describe("MQTT messages too large for the Kafka topic", () => {
  test("are refused before any subscriber gets them: v3.1.1 acknowledged and dropped, v5 0x97", async () => {
    const sub = tracker.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    const inbox = new Inbox(sub);
    await sub.subscribeAsync("big/#", { qos: 1 });
    const v3 = tracker.mqtt(
      await connectMqtt(broker.url, { protocolVersion: 4, clean: false, clientId: "big-v3" }),
    );
    const big = Buffer.alloc(KAFKA_MESSAGE_BYTES_MAX + 1000, 0x62);
    // Used to be: routed, then the append failed and the 3.1.1 publisher was disconnected.
    const closed = new Promise<string>((resolve) => v3.once("close", () => resolve("closed")));
    const outcome = await Promise.race([
      v3.publishAsync("big/v3", big, { qos: 1 }).then(() => "acknowledged"),
      closed,
    ]);
    assert.equal(outcome, "acknowledged");
    const v5 = tracker.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    assert.equal(await ackCode(v5, "big/v5", big.toString()), 0x97);
    // One that fits goes through, after the refused ones: they never reached the subscriber.
    assert.equal(await ackCode(v5, "big/small", "fits"), 0);
    await inbox.waitForTopic("big/small");
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(
      inbox.messages.map((m) => m.topic),
      ["big/small"],
    );
    assert.ok(v3.connected, "the 3.1.1 publisher keeps its connection");
    let appended = 0;
    for (let p = 0; p < PARTITIONS; p++) appended += (await records("mqtt-big", p)).length;
    assert.equal(appended, 1);
  });
});
