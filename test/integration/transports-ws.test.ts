/**
 * MQTT over WebSocket and secure WebSocket against the real broker process: mqtt.js over ws://
 * and wss:// (MQTT 3.1, 3.1.1, 5), packets split across and packed into WebSocket messages,
 * and the upgrades and messages that must be refused: wrong path or subprotocol, text
 * messages, messages above max_packet_size, client certificates over WSS.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import WebSocket from "ws";
import { encode, MqttParser, type Packet } from "../../src/protocol/mqtt/index.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import {
  ClientTracker,
  connectMqtt,
  Inbox,
  uniqueName,
  WAIT_TIMEOUT_MS,
  withTimeout,
} from "../helpers/mqtt-clients.ts";
import { connectPacket } from "../helpers/raw-client.ts";
import { makeTestCerts, type TestCerts, tlsConfig } from "../helpers/tls-certs.ts";

const MAX_PACKET_SIZE = 4096;

let certs: TestCerts;
const clients = new ClientTracker();
before(() => {
  certs = makeTestCerts();
});
after(async () => {
  await clients.closeAll();
  certs.remove();
});

/** A WebSocket client speaking MQTT bytes we build ourselves, to control the framing. */
class RawWs {
  readonly ws: WebSocket;
  readonly packets: Packet[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly parser = new MqttParser((p) => this.packets.push(p), 1 << 20);

  constructor(url: string, protocols: string[], options: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(url, protocols, options);
    this.ws.on("message", (data: Buffer) => this.parser.push(data));
    this.ws.on("error", () => {
      // The close code is what the tests check.
    });
    this.closed = new Promise((resolve) =>
      this.ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
    );
  }

  opened(): Promise<void> {
    return withTimeout(
      new Promise((resolve, reject) => {
        this.ws.once("open", () => resolve());
        this.ws.once("unexpected-response", (_req, res) =>
          reject(new Error(`HTTP ${res.statusCode}`)),
        );
        this.ws.once("close", () => reject(new Error("closed before opening")));
      }),
      WAIT_TIMEOUT_MS,
      "WebSocket open",
    );
  }

  async waitFor(type: Packet["type"]): Promise<Packet> {
    const deadline = Date.now() + WAIT_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const found = this.packets.find((p) => p.type === type);
      if (found !== undefined) return found;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(
      `no ${type} within ${WAIT_TIMEOUT_MS} ms; got ${this.packets.map((p) => p.type)}`,
    );
  }
}

/** The HTTP status an upgrade attempt is refused with. */
function upgradeStatus(url: string, protocols: string[]): Promise<number> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocols);
      ws.once("open", () => {
        ws.terminate();
        reject(new Error("upgrade accepted"));
      });
      ws.once("unexpected-response", (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.once("error", () => {});
    }),
    WAIT_TIMEOUT_MS,
    `upgrade to ${url}`,
  );
}

async function roundTrip(broker: BrokerProcess, url: string, options: Record<string, unknown>) {
  const topic = `ws/${uniqueName("t")}`;
  const wsClient = clients.mqtt(await connectMqtt(url, options));
  const wsInbox = new Inbox(wsClient);
  await wsClient.subscribeAsync(topic, { qos: 1 });
  const tcpClient = clients.mqtt(await connectMqtt(broker.url));
  const tcpInbox = new Inbox(tcpClient);
  await tcpClient.subscribeAsync(`${topic}/back`, { qos: 1 });
  await tcpClient.publishAsync(topic, "to ws", { qos: 1 });
  assert.equal((await wsInbox.waitForTopic(topic)).payload.toString(), "to ws");
  await wsClient.publishAsync(`${topic}/back`, "from ws", { qos: 1 });
  assert.equal((await tcpInbox.waitForTopic(`${topic}/back`)).payload.toString(), "from ws");
}

describe("WebSocket and secure WebSocket listeners", () => {
  let broker: BrokerProcess;
  let wsUrl: string;
  before(async () => {
    broker = await startBroker({
      config:
        `[mqtt_protocol_config]\nmax_packet_size = ${MAX_PACKET_SIZE}\n${tlsConfig(certs)}` +
        "[mqtt_wss]\nenable = true\n",
      args: ["--wss-port", "0"],
    });
    wsUrl = `ws://127.0.0.1:${broker.ports.ws}/mqtt`;
  });
  after(() => broker.stop());

  test("mqtt.js over ws:// with MQTT 5, 3.1.1 and 3.1 (subprotocol mqttv3.1)", async () => {
    await roundTrip(broker, wsUrl, { protocolVersion: 5 });
    await roundTrip(broker, wsUrl, { protocolVersion: 4 });
    await roundTrip(broker, wsUrl, { protocolVersion: 3, protocolId: "MQIsdp" });
  });

  test("mqtt.js over wss:// trusting the test CA", async () => {
    const url = `wss://127.0.0.1:${broker.ports.wss}/mqtt`;
    await roundTrip(broker, url, { protocolVersion: 5, ca: certs.ca, servername: "localhost" });
  });

  test("a packet split over several messages, several packets in one message", async () => {
    const raw = new RawWs(wsUrl, ["mqtt"]);
    await raw.opened();
    assert.equal(raw.ws.protocol, "mqtt");
    const connect = encode(connectPacket({ clientId: uniqueName("frames"), version: 4 }), 4);
    for (let i = 0; i < connect.length; i += 5) raw.ws.send(connect.subarray(i, i + 5));
    await raw.waitFor("connack");
    const topic = `ws/${uniqueName("packed")}`;
    const packed = Buffer.concat([
      encode(
        {
          type: "subscribe",
          packetId: 1,
          subscriptions: [
            {
              topicFilter: topic,
              qos: 0,
              noLocal: false,
              retainAsPublished: false,
              retainHandling: 0,
            },
          ],
        },
        4,
      ),
      encode(
        {
          type: "publish",
          topic,
          payload: Buffer.from("packed"),
          qos: 0,
          retain: false,
          dup: false,
        },
        4,
      ),
      encode({ type: "pingreq" }, 4),
    ]);
    raw.ws.send(packed);
    await raw.waitFor("suback");
    await raw.waitFor("pingresp");
    const publish = await raw.waitFor("publish");
    assert.ok(publish.type === "publish" && publish.payload.toString() === "packed");
    raw.ws.close();
  });

  test("upgrades for another path, or without the mqtt subprotocol, are refused and logged", async () => {
    const base = `ws://127.0.0.1:${broker.ports.ws}`;
    assert.equal(await upgradeStatus(`${base}/other`, ["mqtt"]), 404);
    assert.equal(await upgradeStatus(`${base}/mqtt`, ["chat"]), 400);
    assert.equal(await upgradeStatus(`${base}/mqtt`, []), 400);
    await broker.waitForLog((l) => /refusing WebSocket upgrade: path "\/other"/.test(l.msg));
    await broker.waitForLog((l) => /refusing WebSocket upgrade: no subprotocol/.test(l.msg));
    // A query string does not change the path.
    const raw = new RawWs(`${base}/mqtt?client=1`, ["mqttv3.1"]);
    await raw.opened();
    assert.equal(raw.ws.protocol, "mqttv3.1");
    raw.ws.close();
  });

  test("a plain HTTP request is answered 426 Upgrade Required", async () => {
    const response = await fetch(`http://127.0.0.1:${broker.ports.ws}/mqtt`);
    assert.equal(response.status, 426);
    await response.text();
  });

  test("a text message closes the connection with 1003 and a log line", async () => {
    const raw = new RawWs(wsUrl, ["mqtt"]);
    await raw.opened();
    raw.ws.send("not binary");
    const { code } = await withTimeout(raw.closed, WAIT_TIMEOUT_MS, "close after text");
    assert.equal(code, 1003);
    await broker.waitForLog((l) =>
      /closing WebSocket connection: text WebSocket message/.test(l.msg),
    );
  });

  test("a message above max_packet_size closes the connection with 1009", async () => {
    const raw = new RawWs(wsUrl, ["mqtt"]);
    await raw.opened();
    raw.ws.send(Buffer.alloc(MAX_PACKET_SIZE + 1));
    const { code } = await withTimeout(raw.closed, WAIT_TIMEOUT_MS, "close after oversize");
    assert.equal(code, 1009);
    await broker.waitForLog((l) => /closing WebSocket connection: Max payload size/.test(l.msg));
  });

  test("after every refusal the broker still serves WebSocket clients", async () => {
    await roundTrip(broker, wsUrl, { protocolVersion: 5 });
  });
});

describe("WebSocket upgrade deadline", () => {
  let broker: BrokerProcess;
  before(async () => {
    broker = await startBroker({ config: "[mqtt_limits]\nconnect_timeout_ms = 1000\n" });
  });
  after(() => broker.stop());

  test("a socket that sends no upgrade request is answered 408 at connect_timeout_ms, logged", async () => {
    const socket = connect(broker.ports.ws ?? 0, "127.0.0.1");
    const started = performance.now();
    let answer = "";
    socket.on("data", (chunk: Buffer) => {
      answer += chunk.toString();
    });
    await new Promise((resolve) => socket.once("close", resolve));
    const ms = performance.now() - started;
    // Within a second's check of the deadline, not Node's default 30 s.
    assert.ok(ms >= 900 && ms < 3000, `closed after ${Math.round(ms)} ms`);
    assert.match(answer, /^HTTP\/1\.1 408 Request Timeout/);
    await broker.waitForLog((l) =>
      /closing WebSocket connection: no upgrade request in time/.test(l.msg),
    );
  });
});

describe("secure WebSocket with client certificates", () => {
  let broker: BrokerProcess;
  let url: string;
  before(async () => {
    const tls = tlsConfig(certs, 'verify_client = true\npeer_cert_as_username = "san"\n');
    broker = await startBroker({
      config: `${tls}[mqtt_wss]\nenable = true\n[mqtt_ws]\nenable = false\n`,
      args: ["--wss-port", "0"],
    });
    url = `wss://127.0.0.1:${broker.ports.wss}/mqtt`;
  });
  after(() => broker.stop());

  test("the WebSocket listener can be turned off", () => {
    assert.equal(broker.ports.ws, undefined);
  });

  test("a trusted certificate connects; its first subjectAltName is the user name", async () => {
    const options = { ca: certs.ca, cert: certs.alice.cert, key: certs.alice.key };
    await roundTrip(broker, url, { ...options, servername: "localhost", protocolVersion: 5 });
    const line = await broker.waitForLog((l) => l.msg === "TLS client certificate accepted");
    assert.equal(line.username, "alice.devices.example");
  });

  test("an untrusted certificate is refused before the upgrade, with a log line", async () => {
    const raw = new RawWs(url, ["mqtt"], {
      ca: certs.ca,
      cert: certs.mallory.cert,
      key: certs.mallory.key,
    });
    await assert.rejects(raw.opened());
    await broker.waitForLog((l) =>
      /closing WSS connection: client certificate not accepted/.test(l.msg),
    );
  });
});
