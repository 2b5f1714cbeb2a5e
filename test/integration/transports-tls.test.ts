/**
 * MQTT over TLS against the real broker process, with certificates made by openssl for the
 * test: mqtt.js over mqtts://, minimum version and cipher settings, client-certificate
 * authentication (trusted, untrusted, expired, missing), and bad handshakes that must cost
 * only their own socket.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type ConnectionOptions, connect as tlsConnect } from "node:tls";
import type { IClientOptions } from "mqtt";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import {
  ClientTracker,
  connectMqtt,
  Inbox,
  uniqueName,
  WAIT_TIMEOUT_MS,
} from "../helpers/mqtt-clients.ts";
import { connectPacket, openRaw } from "../helpers/raw-client.ts";
import { expectRefused } from "../helpers/refused.ts";
import { makeTestCerts, type TestCerts, tlsConfig } from "../helpers/tls-certs.ts";

const MAIN = new URL("../../src/cli/main.ts", import.meta.url).pathname;

let certs: TestCerts;
const clients = new ClientTracker();

before(() => {
  certs = makeTestCerts();
});
after(async () => {
  await clients.closeAll();
  certs.remove();
});

const ADMIN_PASSWORD = "transports-test";

function startTlsBroker(tls: string): Promise<BrokerProcess> {
  return startBroker({
    config: `${tlsConfig(certs, tls)}[mqtt_tls]\nenable = true\n[admin]\npassword = "${ADMIN_PASSWORD}"\n`,
    args: ["--tls-port", "0"],
  });
}

/** Resolves with how a raw TLS handshake with the broker ended: "ok" or the error's text. */
function handshake(port: number, options: ConnectionOptions): Promise<string> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: "127.0.0.1", port, servername: "localhost", ...options });
    const timer = setTimeout(() => finish("timeout"), WAIT_TIMEOUT_MS);
    function finish(result: string): void {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    }
    socket.once("secureConnect", () => finish("ok"));
    socket.once("error", (err) => finish(err.message));
  });
}

/** Publishes over plain TCP and expects the message on `subscriberUrl`'s client. */
async function roundTrip(broker: BrokerProcess, subscriberUrl: string, options: IClientOptions) {
  const topic = `tls/${uniqueName("t")}`;
  const subscriber = clients.mqtt(await connectMqtt(subscriberUrl, options));
  const inbox = new Inbox(subscriber);
  await subscriber.subscribeAsync(topic, { qos: 1 });
  const publisher = clients.mqtt(await connectMqtt(broker.url));
  await publisher.publishAsync(topic, "over tls", { qos: 1 });
  const got = await inbox.waitForTopic(topic);
  assert.equal(got.payload.toString(), "over tls");
  // And back: the TLS client publishes, the TCP client receives.
  const back = `${topic}/back`;
  const tcpInbox = new Inbox(publisher);
  await publisher.subscribeAsync(back, { qos: 1 });
  await subscriber.publishAsync(back, "from tls", { qos: 1 });
  assert.equal((await tcpInbox.waitForTopic(back)).payload.toString(), "from tls");
}

describe("TLS listener, server certificate only", () => {
  let broker: BrokerProcess;
  before(async () => {
    broker = await startTlsBroker('min_version = "TLSv1.3"\n');
  });
  after(() => broker.stop());

  test("logs its address as {listener: mqtts} and the admin API lists it", async () => {
    assert.ok(broker.ports.mqtts > 0, JSON.stringify(broker.ports));
    assert.ok(broker.ports.ws > 0, "the WebSocket listener is on by default");
    const base = `http://127.0.0.1:${broker.ports.admin}/api/v1`;
    const login = await fetch(`${base}/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "admin", password: ADMIN_PASSWORD }),
    });
    const { token } = (await login.json()) as { token: string };
    const node = await fetch(`${base}/node`, { headers: { authorization: `Bearer ${token}` } });
    const { listeners } = (await node.json()) as { listeners: Record<string, { port: number }> };
    assert.equal(listeners.mqtts?.port, broker.ports.mqtts);
    assert.equal(listeners.ws?.port, broker.ports.ws);
    assert.equal(listeners.wss, undefined);
  });

  test("mqtt.js over mqtts:// (v5 and v3.1.1) trusts the CA and exchanges messages", async () => {
    const url = `mqtts://127.0.0.1:${broker.ports.mqtts}`;
    const tls = { ca: certs.ca, servername: "localhost" };
    await roundTrip(broker, url, { ...tls, protocolVersion: 5 });
    await roundTrip(broker, url, { ...tls, protocolVersion: 4 });
  });

  test("a client that does not trust the server's CA refuses it", async () => {
    const result = await handshake(broker.ports.mqtts, {});
    assert.match(result, /self-signed|unable to (get|verify)/i);
  });

  test("TLS 1.2 is refused under min_version = TLSv1.3, and logged", async () => {
    const result = await handshake(broker.ports.mqtts, { ca: certs.ca, maxVersion: "TLSv1.2" });
    assert.notEqual(result, "ok");
    await broker.waitForLog((l) => /closing TLS connection: TLS handshake failed/.test(l.msg));
    assert.equal(await handshake(broker.ports.mqtts, { ca: certs.ca }), "ok");
  });

  test("plain MQTT to the TLS port closes that socket with a log line; the broker goes on", async () => {
    const raw = await openRaw(broker.ports.mqtts, 4);
    raw.send(connectPacket({ clientId: "plain-on-tls", version: 4 }));
    await raw.waitClosed();
    const line = await broker.waitForLog((l) => /WRONG_VERSION_NUMBER/.test(String(l.reason)));
    assert.match(String(line.remote), /^127\.0\.0\.1:\d+$/);
    await roundTrip(broker, `mqtts://127.0.0.1:${broker.ports.mqtts}`, {
      ca: certs.ca,
      servername: "localhost",
    });
  });
});

describe("TLS listener with client certificates (verify_client)", () => {
  let broker: BrokerProcess;
  const cipher = "ECDHE-ECDSA-AES128-GCM-SHA256";
  before(async () => {
    broker = await startTlsBroker(`verify_client = true\nciphers = "${cipher}"\n`);
  });
  after(() => broker.stop());

  function withCert(name: "alice" | "mallory" | "expired"): {
    ca: Buffer;
    cert: Buffer;
    key: Buffer;
  } {
    return { ca: certs.ca, cert: certs[name].cert, key: certs[name].key };
  }

  test("a certificate signed by the CA connects; its CN is the connection's user name", async () => {
    const url = `mqtts://127.0.0.1:${broker.ports.mqtts}`;
    await roundTrip(broker, url, { ...withCert("alice"), servername: "localhost" });
    const line = await broker.waitForLog((l) => l.msg === "TLS client certificate accepted");
    assert.equal(line.username, "alice");
    // The certificate names the user: a CONNECT claiming another name does not change it.
    const clientId = uniqueName("cert-alice");
    clients.mqtt(
      await connectMqtt(url, {
        ...withCert("alice"),
        servername: "localhost",
        clientId,
        username: "bob",
      }),
    );
    const base = `http://127.0.0.1:${broker.ports.admin}/api/v1`;
    const login = await fetch(`${base}/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "admin", password: ADMIN_PASSWORD }),
    });
    const { token } = (await login.json()) as { token: string };
    const client = await fetch(`${base}/clients/${clientId}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(((await client.json()) as { username: string }).username, "alice");
  });

  for (const [what, name, reason] of [
    ["signed by an unknown CA", "mallory", /client certificate not accepted/],
    ["expired", "expired", /CERT_HAS_EXPIRED|expired/],
  ] as const) {
    test(`a certificate ${what} is refused with a log line`, async () => {
      const url = `mqtts://127.0.0.1:${broker.ports.mqtts}`;
      await expectRefused(url, { ...withCert(name), servername: "localhost" });
      const line = await broker.waitForLog((l) => reason.test(String(l.reason)));
      assert.match(line.msg, /closing TLS connection/);
    });
  }

  test("a client without a certificate is refused with a log line", async () => {
    const before = broker.logs.length;
    const url = `mqtts://127.0.0.1:${broker.ports.mqtts}`;
    await expectRefused(url, { ca: certs.ca, servername: "localhost" });
    const line = await broker.waitForLog(
      (l) => broker.logs.indexOf(l) >= before && /closing TLS connection/.test(l.msg),
    );
    assert.equal(line.reason, "no client certificate presented");
  });

  test("ciphers: TLS 1.2 with a cipher outside the list fails, with one inside succeeds", async () => {
    const tls12 = { ...withCert("alice"), maxVersion: "TLSv1.2" as const };
    const outside = await handshake(broker.ports.mqtts, {
      ...tls12,
      ciphers: "ECDHE-ECDSA-AES256-GCM-SHA384",
    });
    assert.notEqual(outside, "ok");
    assert.equal(await handshake(broker.ports.mqtts, { ...tls12, ciphers: cipher }), "ok");
  });

  test("after every refusal the broker still serves TLS and TCP clients", async () => {
    const url = `mqtts://127.0.0.1:${broker.ports.mqtts}`;
    await roundTrip(broker, url, { ...withCert("alice"), servername: "localhost" });
  });
});

describe("TLS configuration errors stop start-up and name the key, as config errors", () => {
  /** A config error: exit 2, `error RMQ_ERR_CONFIG_INVALID: ...` on stderr, data_dir not made. */
  function startWith(toml: string): { status: number | null; output: string } {
    const file = join(certs.dir, `${uniqueName("bad")}.toml`);
    const dataDir = join(certs.dir, uniqueName("data"));
    writeFileSync(file, `data_dir = "${dataDir}"\n${toml}`);
    const args = [MAIN, "start", "--config", file, "--mqtt-port", "0", "--http-port", "0"];
    args.push("--kafka-port", "0", "--ws-port", "0", "--tls-port", "0");
    const result = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 30_000 });
    assert.equal(result.stdout, "", "nothing logged");
    assert.match(result.stderr, /^error RMQ_ERR_CONFIG_INVALID: invalid configuration/);
    assert.equal(existsSync(dataDir), false, "data_dir not created");
    return { status: result.status, output: result.stderr };
  }

  test("[mqtt_tls] enable = true without a certificate", () => {
    const { status, output } = startWith("[mqtt_tls]\nenable = true\n");
    assert.equal(status, 2, output);
    assert.match(output, /tls\.cert_file: must be set: \[mqtt_tls\] is enabled/);
  });

  test("a certificate file that does not exist", () => {
    const { status, output } = startWith(
      `[tls]\ncert_file = "/nonexistent/cert.pem"\nkey_file = "${certs.server.keyFile}"\n` +
        "[mqtt_wss]\nenable = true\n",
    );
    assert.equal(status, 2, output);
    assert.match(output, /tls\.cert_file = .*\/nonexistent\/cert\.pem.*ENOENT/);
  });

  test("verify_client without ca_file, and a cipher list that matches nothing", () => {
    const base = `[tls]\ncert_file = "${certs.server.certFile}"\nkey_file = "${certs.server.keyFile}"\n`;
    const noCa = startWith(`${base}verify_client = true\n[mqtt_tls]\nenable = true\n`);
    assert.equal(noCa.status, 2, noCa.output);
    assert.match(noCa.output, /tls\.ca_file: must be set: tls\.verify_client = true needs the CA/);
    const badCiphers = startWith(`${base}ciphers = "NO-SUCH-CIPHER"\n[mqtt_tls]\nenable = true\n`);
    assert.equal(badCiphers.status, 2, badCiphers.output);
    assert.match(badCiphers.output, /ciphers.*no cipher match/);
  });
});
