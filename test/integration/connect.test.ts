/**
 * CONNECT and CONNACK against the real broker process: protocol versions, CONNACK properties,
 * client identifier rules, the first-packet and second-CONNECT rules, the connect timeout and
 * the connection limit.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { ConnackPacket, ProtocolLevel } from "../../src/protocol/mqtt/index.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { ClientTracker, connectMqtt, Inbox, uniqueName } from "../helpers/mqtt-clients.ts";
import {
  connectPacket,
  connectRaw,
  openRaw,
  type RawClient,
  type RawConnectOptions,
} from "../helpers/raw-client.ts";

const CONNECT_TIMEOUT_MS = 500;
const CLIENT_ID_LENGTH_MAX = 32;

/** A CONNECT built byte by byte, for protocol names and levels our encoder refuses to write. */
function handmadeConnect(protocolName: string, level: number, clientId: string): Buffer {
  const name = Buffer.from(protocolName);
  const id = Buffer.from(clientId);
  const body = Buffer.concat([
    Buffer.from([name.length >> 8, name.length & 0xff]),
    name,
    Buffer.from([level, 0x02, 0x00, 0x3c]), // level, clean start, keep alive 60
    level === 5 ? Buffer.from([0x00]) : Buffer.alloc(0), // empty property list
    Buffer.from([id.length >> 8, id.length & 0xff]),
    id,
  ]);
  assert.ok(body.length < 128, "one-byte remaining length");
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

/** Sends CONNECT on a fresh socket and returns the CONNACK, whatever its code. */
async function connackFor(
  port: number,
  tracker: ClientTracker,
  options: RawConnectOptions,
): Promise<{ client: RawClient; connack: ConnackPacket }> {
  const client = tracker.raw(await openRaw(port, options.version ?? 5));
  client.send(connectPacket(options));
  return { client, connack: await client.expect("connack") };
}

/** Publishes through the broker from a second client and waits for `client` to receive it. */
async function assertRoundTrip(url: string, tracker: ClientTracker, version: 3 | 4 | 5) {
  const topic = uniqueName("connect/roundtrip");
  const options =
    version === 3
      ? { protocolVersion: 3 as const, protocolId: "MQIsdp" as const }
      : { protocolVersion: version };
  const subscriber = tracker.mqtt(await connectMqtt(url, options));
  const inbox = new Inbox(subscriber);
  await subscriber.subscribeAsync(topic, { qos: 1 });
  const publisher = tracker.mqtt(await connectMqtt(url, options));
  await publisher.publishAsync(topic, `hello v${version}`, { qos: 1 });
  const received = await inbox.waitForTopic(topic);
  assert.equal(received.payload.toString(), `hello v${version}`);
}

describe("CONNECT with default limits", () => {
  let broker: BrokerProcess;
  const tracker = new ClientTracker();

  before(async () => {
    broker = await startBroker({
      config: `
[mqtt_limits]
connect_timeout_ms = ${CONNECT_TIMEOUT_MS}
max_client_id_length = ${CLIENT_ID_LENGTH_MAX}
`,
    });
  });
  after(async () => {
    await tracker.closeAll();
    assert.equal(await broker.stop(), 0);
  });

  describe("protocol version negotiation", () => {
    for (const version of [3, 4, 5] as const) {
      test(`mqtt.js with protocolVersion ${version} connects and round-trips a message`, async () => {
        try {
          await assertRoundTrip(broker.url, tracker, version);
        } finally {
          await tracker.closeAll();
        }
      });
    }

    test('MQTT 3.1 "MQIsdp" level 3 gets CONNACK 0 over raw bytes', async () => {
      const client = tracker.raw(await openRaw(broker.port, 3));
      try {
        client.sendBytes(handmadeConnect("MQIsdp", 3, uniqueName("mqisdp")));
        const connack = await client.expect("connack");
        assert.equal(connack.reasonCode, 0);
        assert.deepEqual(await client.drain(), []);
      } finally {
        client.destroy();
      }
    });

    test("[MQTT-3.1.2-2] unsupported level 6 gets CONNACK return code 1, then the socket closes", async () => {
      const client = tracker.raw(await openRaw(broker.port, 4));
      try {
        client.sendBytes(handmadeConnect("MQTT", 6, uniqueName("level6")));
        const connack = await client.expect("connack");
        assert.equal(connack.reasonCode, 1, "unacceptable protocol version");
        assert.equal(connack.sessionPresent, false);
        await client.waitClosed();
      } finally {
        client.destroy();
      }
    });

    test("[MQTT-3.1.2-2] MQIsdp with level 4 gets return code 1 too", async () => {
      const client = tracker.raw(await openRaw(broker.port, 4));
      try {
        client.sendBytes(handmadeConnect("MQIsdp", 4, uniqueName("mqisdp4")));
        assert.equal((await client.expect("connack")).reasonCode, 1);
        await client.waitClosed();
      } finally {
        client.destroy();
      }
    });

    test("[MQTT-3.1.2-1] a wrong protocol name closes the socket without a CONNACK", async () => {
      const client = tracker.raw(await openRaw(broker.port, 4));
      try {
        client.sendBytes(handmadeConnect("MQTX", 4, uniqueName("badname")));
        await client.waitClosed();
        assert.deepEqual(client.received, []);
      } finally {
        client.destroy();
      }
    });
  });

  describe("CONNACK properties (v5)", () => {
    test("defaults: Maximum Packet Size and Topic Alias Maximum, nothing that would be a default", async () => {
      const { client, connack } = tracker.raw(
        await connectRaw(broker.port, { clientId: uniqueName("props-default"), keepAlive: 60 }),
      );
      try {
        const p = connack.properties ?? {};
        assert.equal(p.maximumPacketSize, 10_485_760);
        assert.equal(p.topicAliasMaximum, 65_535);
        // Absent means the spec default: 65535, QoS 2, retain available, the client's keep alive.
        assert.equal(p.receiveMaximum, undefined);
        assert.equal(p.maximumQoS, undefined);
        assert.equal(p.retainAvailable, undefined);
        assert.equal(p.serverKeepAlive, undefined);
        assert.equal(p.assignedClientIdentifier, undefined);
        assert.equal(p.sessionExpiryInterval, undefined);
      } finally {
        client.destroy();
      }
    });
  });

  describe("client identifiers", () => {
    test("[MQTT-3.1.3-6] v3.1.1 empty id with clean session is assigned one and accepted", async () => {
      const { client, connack } = await connackFor(broker.port, tracker, {
        version: 4,
        clientId: "",
        cleanStart: true,
      });
      try {
        assert.equal(connack.reasonCode, 0);
        assert.equal(connack.sessionPresent, false);
        const suback = await client.subscribe([{ topicFilter: uniqueName("anon"), qos: 1 }]);
        assert.deepEqual(suback.reasonCodes, [1]);
      } finally {
        client.destroy();
      }
    });

    test("[MQTT-3.1.3-8] v3.1.1 empty id with a persistent session gets return code 2", async () => {
      const { client, connack } = await connackFor(broker.port, tracker, {
        version: 4,
        clientId: "",
        cleanStart: false,
      });
      try {
        assert.equal(connack.reasonCode, 2, "identifier rejected");
        await client.waitClosed();
      } finally {
        client.destroy();
      }
    });

    test("v3.1 empty id gets return code 2 (3.1 requires 1 to 23 characters)", async () => {
      const { client, connack } = await connackFor(broker.port, tracker, {
        version: 3,
        clientId: "",
        cleanStart: true,
      });
      try {
        assert.equal(connack.reasonCode, 2);
        await client.waitClosed();
      } finally {
        client.destroy();
      }
    });

    test("[MQTT-3.2.2-16] v5 empty id gets an Assigned Client Identifier, unique per client", async () => {
      const first = await connackFor(broker.port, tracker, { clientId: "" });
      const second = await connackFor(broker.port, tracker, {
        clientId: "",
        cleanStart: false,
        properties: { sessionExpiryInterval: 60 },
      });
      try {
        for (const { connack } of [first, second]) assert.equal(connack.reasonCode, 0);
        const a = first.connack.properties?.assignedClientIdentifier;
        const b = second.connack.properties?.assignedClientIdentifier;
        assert.ok(a !== undefined && a.length > 0, "assigned id present");
        assert.ok(b !== undefined && b.length > 0, "assigned id present");
        assert.notEqual(a, b);
        // The assigned id is a real session: reconnecting with it resumes the persistent one.
        second.client.destroy();
        await second.client.waitClosed();
        const again = await connackFor(broker.port, tracker, {
          clientId: b,
          cleanStart: false,
          properties: { sessionExpiryInterval: 60 },
        });
        assert.equal(again.connack.reasonCode, 0);
        assert.equal(again.connack.sessionPresent, true, "the session of the assigned id");
        assert.equal(again.connack.properties?.assignedClientIdentifier, undefined);
        again.client.destroy();
      } finally {
        first.client.destroy();
        second.client.destroy();
      }
    });

    for (const version of [4, 5] as const) {
      const expected = version === 5 ? 0x85 : 2;
      const label = version === 5 ? "0x85" : "return code 2";
      test(`v${version}: an id longer than max_client_id_length is refused with ${label}`, async () => {
        const tooLong = "x".repeat(CLIENT_ID_LENGTH_MAX + 1);
        const { client, connack } = await connackFor(broker.port, tracker, {
          version,
          clientId: tooLong,
        });
        try {
          assert.equal(connack.reasonCode, expected);
          await client.waitClosed();
        } finally {
          client.destroy();
        }
        const longest = `${uniqueName("id")}-`.padEnd(CLIENT_ID_LENGTH_MAX, "y");
        const ok = await connackFor(broker.port, tracker, { version, clientId: longest });
        ok.client.destroy();
        assert.equal(ok.connack.reasonCode, 0, "an id of exactly the maximum length is accepted");
      });
    }
  });

  test("[MQTT-3.1.2-29] a refusal carries a Reason String unless Request Problem Information is 0", async () => {
    const tooLong = "z".repeat(CLIENT_ID_LENGTH_MAX + 1);
    const plain = await connackFor(broker.port, tracker, { clientId: tooLong });
    assert.equal(plain.connack.reasonCode, 0x85);
    assert.match(plain.connack.properties?.reasonString ?? "", /client identifier/);
    const quiet = await connackFor(broker.port, tracker, {
      clientId: tooLong,
      properties: { requestProblemInformation: 0 },
    });
    assert.equal(quiet.connack.reasonCode, 0x85);
    assert.equal(quiet.connack.properties?.reasonString, undefined);
    await Promise.all([plain.client.waitClosed(), quiet.client.waitClosed()]);
  });

  describe("packet order", () => {
    for (const first of ["pingreq", "publish"] as const) {
      test(`[MQTT-3.1.0-1] a first packet that is ${first}, not CONNECT, closes the socket`, async () => {
        const client = tracker.raw(await openRaw(broker.port, 4));
        try {
          if (first === "pingreq") client.send({ type: "pingreq" });
          else client.publish(uniqueName("early"), "too soon");
          await client.waitClosed();
          assert.deepEqual(client.received, [], "no PINGRESP, no CONNACK");
        } finally {
          client.destroy();
        }
      });
    }

    test("[MQTT-3.1.0-2] a second CONNECT gets DISCONNECT 0x82 (v5) and the socket closes", async () => {
      const clientId = uniqueName("twice5");
      const { client } = tracker.raw(await connectRaw(broker.port, { clientId }));
      try {
        client.send(connectPacket({ clientId }));
        const disconnect = await client.expect("disconnect");
        assert.equal(disconnect.reasonCode, 0x82);
        await client.waitClosed();
      } finally {
        client.destroy();
      }
    });

    for (const version of [3, 4] as const) {
      test(`[MQTT-3.1.0-2] a second CONNECT closes a v${version} socket without a packet`, async () => {
        const clientId = uniqueName(`twice${version}`);
        const { client } = tracker.raw(await connectRaw(broker.port, { clientId, version }));
        try {
          const before = client.received.length;
          client.send(connectPacket({ clientId, version }));
          await client.waitClosed();
          assert.equal(client.received.length, before, "nothing after the first CONNACK");
        } finally {
          client.destroy();
        }
      });
    }
  });

  describe("connect timeout", () => {
    test("a socket that sends nothing is closed after connect_timeout_ms", async () => {
      const startedMs = Date.now();
      const client = tracker.raw(await openRaw(broker.port, 4));
      try {
        await client.waitClosed(CONNECT_TIMEOUT_MS + 3000);
        const elapsedMs = Date.now() - startedMs;
        assert.ok(elapsedMs >= CONNECT_TIMEOUT_MS - 50, `closed after ${elapsedMs} ms, too early`);
        assert.deepEqual(client.received, []);
      } finally {
        client.destroy();
      }
    });

    test("a socket that sends half a CONNECT is closed after connect_timeout_ms", async () => {
      const client = tracker.raw(await openRaw(broker.port, 4));
      try {
        const bytes = handmadeConnect("MQTT", 4, uniqueName("half"));
        client.sendBytes(bytes.subarray(0, bytes.length - 3));
        await client.waitClosed(CONNECT_TIMEOUT_MS + 3000);
        assert.deepEqual(client.received, []);
      } finally {
        client.destroy();
      }
    });

    test("a connected client is not subject to the connect timeout", async () => {
      const { client } = tracker.raw(
        await connectRaw(broker.port, { clientId: uniqueName("stays"), keepAlive: 0 }),
      );
      try {
        // Wait past the connect timeout by the broker's own clock: a PINGREQ round trip after it.
        await new Promise((resolve) => setTimeout(resolve, CONNECT_TIMEOUT_MS + 200));
        assert.deepEqual(await client.drain(), []);
        assert.equal(client.closed, false);
      } finally {
        client.destroy();
      }
    });
  });
});

describe("CONNACK properties from configuration (v5)", () => {
  let broker: BrokerProcess;
  const tracker = new ClientTracker();

  before(async () => {
    broker = await startBroker({
      config: `
[mqtt_protocol_config]
receive_max = 20
max_qos = 1
retain_available = false
max_keep_alive = 30
topic_alias_max = 10
max_packet_size = 65536
max_session_expiry_interval = 100
`,
    });
  });
  after(async () => {
    await tracker.closeAll();
    assert.equal(await broker.stop(), 0);
  });

  test("Receive Maximum, Maximum QoS, Retain Available, sizes and Server Keep Alive are announced", async () => {
    const { client, connack } = tracker.raw(
      await connectRaw(broker.port, {
        clientId: uniqueName("props"),
        keepAlive: 60,
        properties: { sessionExpiryInterval: 1000 },
      }),
    );
    try {
      const p = connack.properties ?? {};
      assert.equal(p.receiveMaximum, 20);
      assert.equal(p.maximumQoS, 1);
      assert.equal(p.retainAvailable, 0);
      assert.equal(p.topicAliasMaximum, 10);
      assert.equal(p.maximumPacketSize, 65_536);
      assert.equal(p.serverKeepAlive, 30, "[MQTT-3.2.2-21] 60 s is above max_keep_alive");
      assert.equal(p.sessionExpiryInterval, 100, "capped by max_session_expiry_interval");
    } finally {
      client.destroy();
    }
  });

  test("a keep alive within max_keep_alive is kept: no Server Keep Alive", async () => {
    const { client, connack } = tracker.raw(
      await connectRaw(broker.port, { clientId: uniqueName("ka10"), keepAlive: 10 }),
    );
    try {
      assert.equal(connack.properties?.serverKeepAlive, undefined);
      assert.equal(connack.properties?.sessionExpiryInterval, undefined, "0 requested, 0 granted");
    } finally {
      client.destroy();
    }
  });

  test("keep alive 0 (off) is replaced by max_keep_alive", async () => {
    const { client, connack } = tracker.raw(
      await connectRaw(broker.port, { clientId: uniqueName("ka0"), keepAlive: 0 }),
    );
    try {
      assert.equal(connack.properties?.serverKeepAlive, 30);
    } finally {
      client.destroy();
    }
  });

  test("v3.1.1 CONNACK carries no properties and the client is accepted", async () => {
    const { client, connack } = tracker.raw(
      await connectRaw(broker.port, { clientId: uniqueName("v4props"), version: 4 }),
    );
    try {
      assert.equal(connack.properties, undefined);
    } finally {
      client.destroy();
    }
  });
});

describe("max_connections", () => {
  let broker: BrokerProcess;
  const tracker = new ClientTracker();

  before(async () => {
    broker = await startBroker({ config: "[mqtt_limits]\nmax_connections = 2\n" });
  });
  after(async () => {
    await tracker.closeAll();
    assert.equal(await broker.stop(), 0);
  });

  test("a connection beyond the limit is refused with 0x97 (v5) / 3 (v3.1.1), and a freed slot is reused", async () => {
    const first = tracker.raw(await connectRaw(broker.port, { clientId: uniqueName("max-a") }));
    const second = tracker.raw(
      await connectRaw(broker.port, { clientId: uniqueName("max-b"), version: 4 }),
    );
    const refusals: Array<[ProtocolLevel, number]> = [
      [5, 0x97],
      [4, 3],
      [3, 3],
    ];
    for (const [version, code] of refusals) {
      const { client, connack } = await connackFor(broker.port, tracker, {
        version,
        clientId: uniqueName(`max-over-v${version}`),
      });
      assert.equal(connack.reasonCode, code, `v${version} refusal code`);
      await client.waitClosed();
    }
    const metrics = await (await fetch(`http://127.0.0.1:${broker.ports.admin}/metrics`)).text();
    assert.match(metrics, /^robustmq_connections_refused_total 3$/m);
    assert.match(
      metrics,
      /^robustmq_connections_refused_by_reason_total\{reason="max_connections"\} 3$/m,
    );
    assert.match(metrics, /^robustmq_connections_refused_by_reason_total\{reason="other"\} 0$/m);
    // The counted connections still work.
    assert.deepEqual(await first.client.drain(), []);
    assert.deepEqual(await second.client.drain(), []);
    // A normal DISCONNECT frees a slot: the broker has closed its side when disconnect() returns.
    await second.client.disconnect();
    const third = tracker.raw(await connectRaw(broker.port, { clientId: uniqueName("max-c") }));
    assert.equal(third.connack.reasonCode, 0);
    await tracker.closeAll();
  });

  test("at the limit, a client taking over its own session is admitted [MQTT-3.1.4-3]", async () => {
    const id = uniqueName("max-takeover");
    tracker.raw(await connectRaw(broker.port, { clientId: uniqueName("max-other") }));
    const old = tracker.raw(await connectRaw(broker.port, { clientId: id }));
    const again = tracker.raw(await connectRaw(broker.port, { clientId: id }));
    assert.equal(again.connack.reasonCode, 0);
    await old.client.waitClosed();
    assert.deepEqual(await again.client.drain(), []);
    await tracker.closeAll();
  });
});
