/**
 * PROXY protocol v1 and v2 on the TCP and TLS listeners of the real broker process: the
 * broker sees and shows the client address from the header; a missing, malformed or late
 * header closes that socket with a log line.
 */
import assert from "node:assert/strict";
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { encode } from "../../src/protocol/mqtt/index.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import {
  ClientTracker,
  connectMqtt,
  uniqueName,
  WAIT_TIMEOUT_MS,
  withTimeout,
} from "../helpers/mqtt-clients.ts";
import { connectPacket, RawClient } from "../helpers/raw-client.ts";
import { expectRefused } from "../helpers/refused.ts";
import { makeTestCerts, type TestCerts, tlsConfig } from "../helpers/tls-certs.ts";

const ADMIN_PASSWORD = "proxy-test";
const HEADER_TIMEOUT_MS = 300;
const V2_SIGNATURE = Buffer.from("0d0a0d0a000d0a515549540a", "hex");

let certs: TestCerts;
let broker: BrokerProcess;
let token: string;
const clients = new ClientTracker();

before(async () => {
  certs = makeTestCerts();
  broker = await startBroker({
    config:
      `${tlsConfig(certs)}[mqtt_tls]\nenable = true\n` +
      `[proxy_protocol]\ntcp = true\ntls = true\ntimeout_ms = ${HEADER_TIMEOUT_MS}\n` +
      `[admin]\npassword = "${ADMIN_PASSWORD}"\n`,
    args: ["--tls-port", "0"],
  });
  const login = await fetch(`http://127.0.0.1:${broker.ports.admin}/api/v1/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "admin", password: ADMIN_PASSWORD }),
  });
  token = ((await login.json()) as { token: string }).token;
});
after(async () => {
  await clients.closeAll();
  await broker.stop();
  certs.remove();
});

/** The remote address the admin API shows for a connected client. */
async function remoteAddressOf(clientId: string): Promise<string> {
  const url = `http://127.0.0.1:${broker.ports.admin}/api/v1/clients/${clientId}`;
  const reply = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(reply.status, 200, await reply.clone().text());
  return ((await reply.json()) as { remoteAddress: string }).remoteAddress;
}

function v2Header(command: number, family: number, addresses: Buffer): Buffer {
  const fixed = Buffer.from([0x20 | command, (family << 4) | 0x1, 0, 0]);
  fixed.writeUInt16BE(addresses.length, 2);
  return Buffer.concat([V2_SIGNATURE, fixed, addresses]);
}

/** Opens a TCP socket and writes `header` and a CONNECT in one write, as a balancer would. */
async function connectThroughHeader(header: Buffer, clientId: string): Promise<RawClient> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = netConnect(broker.port, "127.0.0.1", () => resolve(s));
    s.once("error", reject);
  });
  const client = clients.raw(new RawClient(socket, 4));
  const connect = connectPacket({ clientId, version: 4 });
  socket.write(Buffer.concat([header, encode(connect, 4)]));
  return client;
}

/** A balancer in front of the TLS port: prepends `header`, then relays bytes both ways. */
async function balancer(header: Buffer): Promise<Server> {
  const server = createServer((client) => {
    const upstream = netConnect(broker.ports.mqtts, "127.0.0.1", () => {
      upstream.write(header);
      client.pipe(upstream).pipe(client);
    });
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

describe("PROXY protocol on the TCP listener", () => {
  test("v1 TCP4: the client address from the header is the connection's", async () => {
    const id = uniqueName("v1");
    const raw = await connectThroughHeader(
      Buffer.from("PROXY TCP4 203.0.113.7 198.51.100.1 51234 1883\r\n"),
      id,
    );
    await raw.expect("connack");
    assert.equal(await remoteAddressOf(id), "203.0.113.7:51234");
  });

  test("v2 PROXY over IPv6", async () => {
    const addresses = Buffer.alloc(36);
    Buffer.from("20010db8000000000000000000000007", "hex").copy(addresses, 0);
    Buffer.from("20010db8000000000000000000000001", "hex").copy(addresses, 16);
    addresses.writeUInt16BE(40000, 32);
    addresses.writeUInt16BE(1883, 34);
    const id = uniqueName("v2");
    const raw = await connectThroughHeader(v2Header(0x1, 0x2, addresses), id);
    await raw.expect("connack");
    assert.equal(await remoteAddressOf(id), "2001:db8::7:40000");
  });

  test("v2 LOCAL (a balancer's health check) keeps the socket's own address", async () => {
    const id = uniqueName("local");
    const raw = await connectThroughHeader(v2Header(0x0, 0x0, Buffer.alloc(0)), id);
    await raw.expect("connack");
    assert.match(await remoteAddressOf(id), /127\.0\.0\.1:\d+$/);
  });

  for (const [what, bytes, reason] of [
    ["no header (MQTT straight away)", Buffer.alloc(0), /no PROXY protocol header/],
    ["a malformed v1 header", Buffer.from("PROXY TCP4 nowhere 10.0.0.1 1 2\r\n"), /bad TCP4/],
    ["a v1 header with no end", Buffer.from(`PROXY TCP4 ${"1".repeat(120)}`), /longer than 107/],
  ] as const) {
    test(`${what} closes the socket with a log line`, async () => {
      const raw = await connectThroughHeader(bytes, uniqueName("bad"));
      await raw.waitClosed();
      await broker.waitForLog(
        (l) =>
          l.msg === "closing connection: bad PROXY protocol header" &&
          reason.test(String(l.reason)),
      );
    });
  }

  test("a connection that sends nothing is closed after timeout_ms", async () => {
    const socket = netConnect(broker.port, "127.0.0.1");
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.on("error", () => {});
    const started = Date.now();
    await withTimeout(closed, WAIT_TIMEOUT_MS, "close after the header timeout");
    assert.ok(Date.now() - started >= HEADER_TIMEOUT_MS - 50);
    await broker.waitForLog((l) => /no PROXY header within 300 ms/.test(String(l.reason)));
  });
});

describe("PROXY protocol on the TLS listener", () => {
  test("mqtt.js over TLS behind a balancer sending v2: the header's address is seen", async () => {
    const addresses = Buffer.from([192, 0, 2, 9, 10, 0, 0, 1, 0, 0, 0, 0]);
    addresses.writeUInt16BE(61000, 8);
    addresses.writeUInt16BE(8883, 10);
    const lb = await balancer(v2Header(0x1, 0x1, addresses));
    try {
      const port = (lb.address() as { port: number }).port;
      const id = uniqueName("tls-v2");
      const client = clients.mqtt(
        await connectMqtt(`mqtts://127.0.0.1:${port}`, {
          clientId: id,
          ca: certs.ca,
          servername: "localhost",
        }),
      );
      assert.ok(client.connected);
      assert.equal(await remoteAddressOf(id), "192.0.2.9:61000");
    } finally {
      lb.close();
    }
  });

  test("TLS without the header is closed with a log line", async () => {
    const lb = await balancer(Buffer.alloc(0));
    try {
      const port = (lb.address() as { port: number }).port;
      await expectRefused(`mqtts://127.0.0.1:${port}`, { ca: certs.ca, servername: "localhost" });
      await broker.waitForLog((l) => /no PROXY protocol header/.test(String(l.reason)));
    } finally {
      lb.close();
    }
  });
});
