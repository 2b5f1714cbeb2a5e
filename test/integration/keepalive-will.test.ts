/**
 * Keep alive and will messages against the real broker process: the 1.5x keep-alive rule,
 * PINGREQ, Server Keep Alive, and when a will is (and is not) published, retained or delayed.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { MqttClient } from "mqtt";
import {
  encode,
  type Properties,
  type ProtocolLevel,
  type QoS,
} from "../../src/protocol/mqtt/index.ts";
import { clientGone } from "../helpers/broker-logs.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { ClientTracker, connectMqtt, Inbox, uniqueName } from "../helpers/mqtt-clients.ts";
import {
  connectPacket,
  connectRaw,
  openRaw,
  type RawConnectOptions,
} from "../helpers/raw-client.ts";

/** Silence is allowed for 1.5x the keep alive [MQTT-3.1.2-24]; timers may fire a bit late. */
const KEEP_ALIVE_S = 1;
const SILENCE_MS_MIN = KEEP_ALIVE_S * 1500 - 50;
const SILENCE_MS_MAX = KEEP_ALIVE_S * 1500 + 2500;

function willOptions(
  clientId: string,
  topic: string,
  options: { version?: ProtocolLevel; qos?: QoS; retain?: boolean; properties?: Properties } = {},
): RawConnectOptions {
  return {
    clientId,
    version: options.version ?? 5,
    will: {
      topic,
      payload: Buffer.from(`will of ${clientId}`),
      qos: options.qos ?? 1,
      retain: options.retain ?? false,
      properties: options.properties,
    },
  };
}

describe("keep alive and will", () => {
  let broker: BrokerProcess;
  const tracker = new ClientTracker();
  /** Subscribed to every will topic of this file (`${willBase}/#`). */
  let watcher: MqttClient;
  let inbox: Inbox;
  let publisher: MqttClient;
  const willBase = uniqueName("wills");

  before(async () => {
    broker = await startBroker();
    watcher = tracker.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    inbox = new Inbox(watcher);
    await watcher.subscribeAsync(`${willBase}/#`, { qos: 1 });
    publisher = tracker.mqtt(await connectMqtt(broker.url));
  });
  after(async () => {
    await tracker.closeAll();
    assert.equal(await broker.stop(), 0);
  });

  /**
   * Proves that no will reached `topic` without sleeping: a marker published afterwards on the
   * same topic arrives, and nothing arrived before it. The broker decides about a will when the
   * connection closes, before the marker is routed.
   */
  async function assertNoWill(topic: string): Promise<void> {
    await publisher.publishAsync(topic, "marker", { qos: 1 });
    await inbox.waitForTopic(topic);
    assert.deepEqual(inbox.payloads(topic), ["marker"], "only the marker, no will");
  }

  // Tests run concurrently: each uses its own client id and topic, and most wait on timers.
  describe("keep alive", { concurrency: true }, () => {
    test("[MQTT-3.1.2-24] v5: a client silent for 1.5x keep alive gets DISCONNECT 0x8D", async () => {
      // Timed from before CONNECT: the broker's clock starts later, so this never reads short.
      const startedMs = Date.now();
      const { client } = tracker.raw(
        await connectRaw(broker.port, { clientId: uniqueName("silent5"), keepAlive: KEEP_ALIVE_S }),
      );
      const disconnect = await client.expect("disconnect", SILENCE_MS_MAX);
      const elapsedMs = Date.now() - startedMs;
      assert.equal(disconnect.reasonCode, 0x8d);
      assert.ok(elapsedMs >= SILENCE_MS_MIN, `disconnected after ${elapsedMs} ms: too early`);
      await client.waitClosed();
    });

    test("[MQTT-3.1.2-24] v3.1.1: a silent client is closed without a packet", async () => {
      const startedMs = Date.now();
      const { client } = tracker.raw(
        await connectRaw(broker.port, {
          clientId: uniqueName("silent4"),
          version: 4,
          keepAlive: KEEP_ALIVE_S,
        }),
      );
      await client.waitClosed(SILENCE_MS_MAX);
      const elapsedMs = Date.now() - startedMs;
      assert.ok(elapsedMs >= SILENCE_MS_MIN, `closed after ${elapsedMs} ms: too early`);
      assert.equal(client.received.length, 1, "only the CONNACK");
    });

    test("[MQTT-3.1.2-24] a packet trickled a byte at a time and never finished does not keep the connection alive", async () => {
      const startedMs = Date.now();
      const { client } = tracker.raw(
        await connectRaw(broker.port, { clientId: uniqueName("trickle"), keepAlive: KEEP_ALIVE_S }),
      );
      // PUBLISH QoS 0, remaining length 100: topic "t", then one payload byte every 200 ms.
      client.sendBytes(Buffer.from([0x30, 100, 0x00, 0x01, 0x74, 0x00]));
      const trickle = setInterval(() => client.sendBytes(Buffer.from("x")), 200);
      try {
        const disconnect = await client.expect("disconnect", SILENCE_MS_MAX);
        assert.equal(disconnect.reasonCode, 0x8d);
        const elapsedMs = Date.now() - startedMs;
        assert.ok(elapsedMs >= SILENCE_MS_MIN, `disconnected after ${elapsedMs} ms: too early`);
      } finally {
        clearInterval(trickle);
      }
    });

    test("a large packet sent in steady chunks across many keep-alive periods is not cut off", async () => {
      const topic = uniqueName("ka-large");
      const { client } = tracker.raw(
        await connectRaw(broker.port, {
          clientId: uniqueName("uploader"),
          keepAlive: KEEP_ALIVE_S,
        }),
      );
      const packet = encode(
        {
          type: "publish",
          topic,
          payload: Buffer.alloc(640 * 1024, 0x61),
          qos: 1,
          retain: false,
          dup: false,
          packetId: 1,
        },
        5,
      );
      // 64 KiB every 700 ms: about 7 s, more than 4x the 1.5 s a silent client is allowed.
      const chunkBytes = 64 * 1024;
      for (let at = 0; at < packet.length; at += chunkBytes) {
        client.sendBytes(packet.subarray(at, at + chunkBytes));
        await new Promise((resolve) => setTimeout(resolve, 700));
        assert.equal(client.closed, false, `closed after ${at + chunkBytes} bytes`);
      }
      const puback = await client.expect("puback");
      assert.deepEqual([puback.packetId, puback.reasonCode], [1, 0x10]);
      client.destroy();
    });

    test("[MQTT-3.12.4-1] PINGREQ every 0.6 s keeps a 1 s keep-alive connection open", async () => {
      const { client } = tracker.raw(
        await connectRaw(broker.port, { clientId: uniqueName("pinger"), keepAlive: KEEP_ALIVE_S }),
      );
      try {
        // 4 x 600 ms = 2.4 s, well past the 1.5 s the broker would allow a silent client.
        for (let i = 0; i < 4; i++) {
          await new Promise((resolve) => setTimeout(resolve, 600));
          client.send({ type: "pingreq" });
          await client.expect("pingresp");
        }
        assert.equal(client.closed, false);
      } finally {
        client.destroy();
      }
    });
  });

  describe("will", { concurrency: true }, () => {
    for (const version of [4, 5] as const) {
      test(`v${version}: published when the connection is lost without DISCONNECT`, async () => {
        const clientId = uniqueName(`lost-v${version}`);
        const topic = `${willBase}/${clientId}`;
        const { client } = tracker.raw(
          await connectRaw(broker.port, willOptions(clientId, topic, { version })),
        );
        client.destroy();
        const will = await inbox.waitForTopic(topic);
        assert.equal(will.payload.toString(), `will of ${clientId}`);
        assert.equal(will.packet.qos, 1);
        assert.equal(will.packet.retain, false);
      });
    }

    for (const version of [4, 5] as const) {
      test(`[MQTT-3.14.4-3] v${version}: not published after a normal DISCONNECT`, async () => {
        const clientId = uniqueName(`normal-v${version}`);
        const topic = `${willBase}/${clientId}`;
        const { client } = tracker.raw(
          await connectRaw(broker.port, willOptions(clientId, topic, { version })),
        );
        await client.disconnect(); // returns once the broker has closed the socket
        await assertNoWill(topic);
      });
    }

    // Only 0x00 drops the will [MQTT-3.14.4-3, MQTT-3.1.2-8]: 0x04 asks for it, errors keep it.
    for (const reasonCode of [0x04, 0x80, 0x83]) {
      test(`v5: published after DISCONNECT with reason 0x${reasonCode.toString(16)}`, async () => {
        const clientId = uniqueName(`with-will-${reasonCode}`);
        const topic = `${willBase}/${clientId}`;
        const { client } = tracker.raw(await connectRaw(broker.port, willOptions(clientId, topic)));
        client.send({ type: "disconnect", reasonCode });
        await client.waitClosed();
        const will = await inbox.waitForTopic(topic);
        assert.equal(will.payload.toString(), `will of ${clientId}`);
      });
    }

    test("published when the broker closes the connection for a protocol error", async () => {
      const clientId = uniqueName("violator");
      const topic = `${willBase}/${clientId}`;
      const { client } = tracker.raw(await connectRaw(broker.port, willOptions(clientId, topic)));
      client.publish("bad/+/topic", "wildcards are not allowed in a topic name");
      assert.equal((await client.expect("disconnect")).reasonCode, 0x90);
      await inbox.waitForTopic(topic);
    });

    test("v5 will properties reach the subscriber; the will expiry counts down", async () => {
      const clientId = uniqueName("will-props");
      const topic = `${willBase}/${clientId}`;
      const options = willOptions(clientId, topic, {
        properties: {
          payloadFormatIndicator: 1,
          messageExpiryInterval: 120,
          contentType: "text/plain",
          responseTopic: "will/replies",
          correlationData: Buffer.from("corr"),
          userProperties: [["origin", "test"]],
        },
      });
      const { client } = tracker.raw(await connectRaw(broker.port, options));
      client.destroy();
      const will = await inbox.waitForTopic(topic);
      const p = will.packet.properties ?? {};
      assert.equal(p.payloadFormatIndicator, true);
      assert.equal(p.contentType, "text/plain");
      assert.equal(p.responseTopic, "will/replies");
      assert.equal(p.correlationData?.toString(), "corr");
      assert.deepEqual({ ...p.userProperties }, { origin: "test" });
      assert.ok(
        p.messageExpiryInterval !== undefined &&
          p.messageExpiryInterval <= 120 &&
          p.messageExpiryInterval > 100,
        `Message Expiry Interval ${p.messageExpiryInterval}`,
      );
    });

    test("[MQTT-3.1.2-17] a will with retain is stored as a retained message", async () => {
      const clientId = uniqueName("retained-will");
      const topic = `${willBase}/${clientId}`;
      const { client } = tracker.raw(
        await connectRaw(broker.port, willOptions(clientId, topic, { retain: true })),
      );
      client.destroy();
      await inbox.waitForTopic(topic);

      const late = tracker.mqtt(await connectMqtt(broker.url));
      const lateInbox = new Inbox(late);
      await late.subscribeAsync(topic, { qos: 1 });
      const retained = await lateInbox.waitForTopic(topic);
      assert.equal(retained.payload.toString(), `will of ${clientId}`);
      assert.equal(
        retained.packet.retain,
        true,
        "[MQTT-3.3.1-9] sent as retained to a new subscription",
      );
      // Leave no retained message behind for other tests.
      await publisher.publishAsync(topic, "", { qos: 1, retain: true });
    });

    test("v5 will delay: published only after the Will Delay Interval", async () => {
      const clientId = uniqueName("delayed");
      const topic = `${willBase}/${clientId}`;
      const options = willOptions(clientId, topic, { properties: { willDelayInterval: 1 } });
      options.properties = { sessionExpiryInterval: 30 };
      const { client } = tracker.raw(await connectRaw(broker.port, options));
      const gone = clientGone(broker, clientId);
      const goneAtMs = Date.now(); // before the loss: the broker's delay starts later
      client.destroy();
      await gone;
      const will = await inbox.waitForTopic(topic);
      const elapsedMs = Date.now() - goneAtMs;
      assert.ok(elapsedMs >= 990, `will published ${elapsedMs} ms after the loss, delay is 1 s`);
      assert.equal(will.payload.toString(), `will of ${clientId}`);
    });

    test("[MQTT-3.1.3-9] v5 will delay: not published when the session resumes within the delay", async () => {
      const clientId = uniqueName("back-in-time");
      const topic = `${willBase}/${clientId}`;
      const options = willOptions(clientId, topic, { properties: { willDelayInterval: 1 } });
      options.properties = { sessionExpiryInterval: 30 };
      options.cleanStart = false;
      const { client } = tracker.raw(await connectRaw(broker.port, options));
      const gone = clientGone(broker, clientId);
      client.destroy();
      await gone;
      const resumed = tracker.raw(await connectRaw(broker.port, { ...options, will: undefined }));
      assert.equal(resumed.connack.sessionPresent, true);
      // The will would fire 1 s after the loss; only waiting past that shows that it did not.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await assertNoWill(topic);
      resumed.client.destroy();
    });

    const longDelays: Array<[string, string, number]> = [
      [
        "v5 will delay longer than the session: published when the session expires",
        "session-first",
        30,
      ],
      [
        "v5 will delay beyond setTimeout's range (about 25 days): still published at session end",
        "far-future",
        3_000_000,
      ],
    ];
    for (const [name, prefix, willDelayInterval] of longDelays) {
      test(name, async () => {
        const clientId = uniqueName(prefix);
        const topic = `${willBase}/${clientId}`;
        const options = willOptions(clientId, topic, { properties: { willDelayInterval } });
        options.properties = { sessionExpiryInterval: 1 };
        const { client } = tracker.raw(await connectRaw(broker.port, options));
        const gone = clientGone(broker, clientId);
        const goneAtMs = Date.now(); // before the loss: the broker's delay starts later
        client.destroy();
        await gone;
        await inbox.waitForTopic(topic);
        const elapsedMs = Date.now() - goneAtMs;
        assert.ok(
          elapsedMs >= 990 && elapsedMs < 5000,
          `will after ${elapsedMs} ms, session is 1 s`,
        );
      });
    }

    test("published when the broker closes a silent client for keep alive", async () => {
      const clientId = uniqueName("asleep");
      const topic = `${willBase}/${clientId}`;
      const options = { ...willOptions(clientId, topic), keepAlive: KEEP_ALIVE_S };
      const startedMs = Date.now();
      const { client } = tracker.raw(await connectRaw(broker.port, options));
      const will = await inbox.waitForTopic(topic, SILENCE_MS_MAX + 1000);
      const elapsedMs = Date.now() - startedMs;
      assert.ok(
        elapsedMs >= SILENCE_MS_MIN,
        `will after ${elapsedMs} ms: before the keep alive ran out`,
      );
      assert.equal(will.payload.toString(), `will of ${clientId}`);
      assert.equal((await client.expect("disconnect")).reasonCode, 0x8d);
    });
  });
});

describe("limits on keep alive, will QoS and will retain", () => {
  let broker: BrokerProcess;
  const tracker = new ClientTracker();

  before(async () => {
    broker = await startBroker({
      config: "[mqtt_protocol_config]\nmax_keep_alive = 1\nmax_qos = 1\nretain_available = false\n",
    });
  });
  after(async () => {
    await tracker.closeAll();
    assert.equal(await broker.stop(), 0);
  });

  test("[MQTT-3.2.2-21] Server Keep Alive replaces the client's 60 s and is enforced", async () => {
    const startedMs = Date.now();
    const { client, connack } = tracker.raw(
      await connectRaw(broker.port, { clientId: uniqueName("overridden"), keepAlive: 60 }),
    );
    assert.equal(connack.properties?.serverKeepAlive, 1);
    const disconnect = await client.expect("disconnect", SILENCE_MS_MAX);
    const elapsedMs = Date.now() - startedMs;
    assert.equal(disconnect.reasonCode, 0x8d);
    assert.ok(elapsedMs >= SILENCE_MS_MIN, `disconnected after ${elapsedMs} ms: too early`);
  });

  test("[MQTT-3.2.2-12] v5: a will QoS above Maximum QoS is refused with CONNACK 0x9B", async () => {
    const clientId = uniqueName("will-qos2");
    const client = tracker.raw(await openRaw(broker.port, 5));
    client.send(connectPacket(willOptions(clientId, uniqueName("will/qos2"), { qos: 2 })));
    const connack = await client.expect("connack");
    assert.equal(connack.reasonCode, 0x9b);
    await client.waitClosed();
  });

  test("v3.1.1 (no CONNACK code for it): a will QoS above the maximum is accepted and published", async () => {
    const clientId = uniqueName("will-qos2-v4");
    const topic = uniqueName("will/downgraded");
    const watcher = tracker.mqtt(await connectMqtt(broker.url, { protocolVersion: 4 }));
    const inbox = new Inbox(watcher);
    await watcher.subscribeAsync(topic, { qos: 1 });
    const { client } = tracker.raw(
      await connectRaw(broker.port, willOptions(clientId, topic, { version: 4, qos: 2 })),
    );
    client.destroy();
    const will = await inbox.waitForTopic(topic);
    assert.equal(will.packet.qos, 1);
  });
  test("[MQTT-3.2.2-13] v5: a will with retain, retain not available: CONNACK 0x9A", async () => {
    const client = tracker.raw(await openRaw(broker.port, 5));
    const options = willOptions(uniqueName("will-retain"), uniqueName("will/retain"), {
      qos: 1,
      retain: true,
    });
    client.send(connectPacket(options));
    const connack = await client.expect("connack");
    assert.equal(connack.reasonCode, 0x9a);
    await client.waitClosed();
  });

  test("v3.1.1 (no CONNACK code for it): a will with retain, retain not available, is published but not retained", async () => {
    const clientId = uniqueName("will-retain-v4");
    const topic = uniqueName("will/not-retained");
    const watcher = tracker.mqtt(await connectMqtt(broker.url, { protocolVersion: 4 }));
    const inbox = new Inbox(watcher);
    await watcher.subscribeAsync(topic, { qos: 1 });
    const { client } = tracker.raw(
      await connectRaw(broker.port, willOptions(clientId, topic, { version: 4, retain: true })),
    );
    client.destroy();
    await inbox.waitForTopic(topic);
    // A new subscription finds no retained message: SUBACK, then nothing before the PINGRESP.
    const late = tracker.raw(
      await connectRaw(broker.port, { clientId: uniqueName("late"), version: 4 }),
    );
    await late.client.subscribe([{ topicFilter: topic, qos: 1 }]);
    assert.deepEqual(await late.client.drain(), [], "nothing retained");
  });
});
