/**
 * SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and TLS on the Kafka listener, with kafkajs and
 * built-in users added through the admin API: the right credentials produce and consume, wrong
 * ones are refused with Kafka's error and a log line, and a client that skips authentication is
 * closed before it can read or write anything.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { Kafka, type KafkaConfig, logLevel, type SASLOptions } from "kafkajs";
import { ApiKey } from "../../src/protocol/kafka/api-keys.ts";
import { KafkaError } from "../../src/protocol/kafka/error-codes.ts";
import { encodeRequestFrame } from "../../src/protocol/kafka/kafka-codec.ts";
import { ADMIN_CONFIG, type AdminApi, adminApi } from "../helpers/admin-api.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { makeTestCerts, type TestCerts, tlsConfig } from "../helpers/tls-certs.ts";
import { WireClient } from "../unit/protocol/kafka/wire-client.ts";

const AUTH_CONFIG = `${ADMIN_CONFIG}[mqtt_auth]\nauthenticators = ["built_in"]\n`;
const KAFKA_CONFIG = "[kafka]\ngroup_initial_rebalance_delay_ms = 0\n";

function kafka(port: number, extra: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    clientId: "auth-test",
    brokers: [`127.0.0.1:${port}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: 3000,
    ...extra,
  });
}

/** Produces one record and reads it back with the same settings. */
async function roundTrip(client: Kafka, topic: string, value: string): Promise<string> {
  const producer = client.producer();
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: [{ key: "k", value }] });
  } finally {
    await producer.disconnect();
  }
  const consumer = client.consumer({ groupId: `g-${topic}`, rebalanceTimeout: 3000 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    return await new Promise<string>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => resolve(message.value?.toString() ?? ""),
      });
    });
  } finally {
    await consumer.disconnect();
  }
}

/** The error an admin connect fails with (it must fail). */
async function connectError(client: Kafka): Promise<Error> {
  const admin = client.admin();
  try {
    await admin.connect();
    await admin.listTopics();
  } catch (err) {
    return err as Error;
  } finally {
    await admin.disconnect().catch(() => {});
  }
  assert.fail("the connection was accepted");
}

async function metric(api: AdminApi, result: string): Promise<number> {
  const text = await (await fetch(`${api.base}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith(`robustmq_kafka_authentications_total{result="${result}"}`));
  assert.ok(line !== undefined, `no ${result} line in /metrics`);
  return Number(line.split(" ")[1]);
}

describe("SASL on plain TCP, clients must authenticate", () => {
  let broker: BrokerProcess;
  let api: AdminApi;
  let port: number;
  before(async () => {
    broker = await startBroker({
      logLevel: "info",
      config: `${AUTH_CONFIG}${KAFKA_CONFIG}auth_timeout_ms = 1000\n`,
    });
    api = await adminApi(broker);
    port = broker.kafkaPort ?? 0;
    const reply = await api.call("POST", "/api/v1/users", {
      username: "alice",
      password: "alice-secret",
      superuser: false,
    });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
  });
  after(async () => {
    await broker?.stop();
  });

  for (const mechanism of ["plain", "scram-sha-256", "scram-sha-512"] as const) {
    test(`${mechanism}: the right password produces and consumes`, async () => {
      const sasl = { mechanism, username: "alice", password: "alice-secret" } as SASLOptions;
      const topic = `auth-${mechanism}`;
      assert.equal(
        await roundTrip(kafka(port, { sasl }), topic, `via ${mechanism}`),
        `via ${mechanism}`,
      );
    });

    test(`${mechanism}: a wrong password or an unknown user is refused`, async () => {
      for (const [username, password] of [
        ["alice", "wrong"],
        ["nobody", "alice-secret"],
      ]) {
        const sasl = { mechanism, username, password } as SASLOptions;
        const error = await connectError(kafka(port, { sasl }));
        assert.match(error.message, /Authentication failed/, error.message);
        await broker.waitForLog(
          (l) => /^Kafka authentication failed/.test(l.msg) && l.username === username,
          3000,
        );
      }
    });
  }

  test("a client without SASL is closed at its first request, with a log line", async () => {
    await connectError(kafka(port));
    await broker.waitForLog(
      (l) => l.msg === "Kafka connection closed: request before authentication",
    );
  });

  test("ApiVersions is served before authentication and lists the SASL APIs", async () => {
    const client = await WireClient.connect(port);
    try {
      const versions = await client.request(ApiKey.ApiVersions, 3, {
        clientSoftwareName: "wire",
        clientSoftwareVersion: "1",
      });
      const keys = versions.apiKeys.map((k) => [k.apiKey, k.minVersion, k.maxVersion]);
      assert.deepEqual(
        keys.find((k) => k[0] === ApiKey.SaslHandshake),
        [17, 0, 1],
      );
      assert.deepEqual(
        keys.find((k) => k[0] === ApiKey.SaslAuthenticate),
        [36, 0, 2],
      );
    } finally {
      client.close();
    }
  });

  test("an unknown mechanism gets UNSUPPORTED_SASL_MECHANISM with the offered ones, then a close", async () => {
    const client = await WireClient.connect(port);
    const answer = await client.request(ApiKey.SaslHandshake, 1, { mechanism: "GSSAPI" });
    assert.equal(answer.errorCode, KafkaError.UNSUPPORTED_SASL_MECHANISM);
    assert.deepEqual(answer.mechanisms, ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]);
    assert.equal(await client.closedWithin(3000), true);
  });

  test("before authentication a request may not exceed 512 KiB", async () => {
    const client = await WireClient.connect(port);
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(524_289);
    client.send([prefix]);
    assert.equal(await client.closedWithin(3000), true);
    await broker.waitForLog(
      (l) =>
        l.msg === "Kafka connection closed: request size out of range" &&
        l.maxRequestBytes === 524_288,
    );
  });

  /** A raw SASL token after SaslHandshake v0: a size, then the token, no request header. */
  function rawToken(token: string): Buffer[] {
    const size = Buffer.alloc(4);
    size.writeInt32BE(Buffer.byteLength(token));
    return [size, Buffer.from(token)];
  }

  test("SaslHandshake v0, then a raw PLAIN token: an empty raw answer, then requests", async () => {
    const client = await WireClient.connect(port);
    try {
      const handshake = await client.request(ApiKey.SaslHandshake, 0, { mechanism: "PLAIN" });
      assert.equal(handshake.errorCode, 0);
      assert.ok(handshake.mechanisms.includes("SCRAM-SHA-512"));
      client.send(rawToken("alice\0alice\0alice-secret"));
      assert.deepEqual(await client.nextFrame(), Buffer.alloc(0), "a zero size: authenticated");
      const metadata = await client.request(ApiKey.Metadata, 0, { topics: [] });
      assert.equal(metadata.brokers.length, 1);
    } finally {
      client.close();
    }
  });

  test("SaslHandshake v0 with a wrong password: closed without an answer, logged", async () => {
    const client = await WireClient.connect(port);
    await client.request(ApiKey.SaslHandshake, 0, { mechanism: "PLAIN" });
    client.send(rawToken("\0alice\0wrong"));
    assert.equal(await client.nextFrame(3000), null, "no answer: v0 cannot carry one");
    await broker.waitForLog(
      (l) => /^Kafka authentication failed/.test(l.msg) && l.username === "alice",
      3000,
    );
  });

  test("SaslHandshake v0: a raw token over 512 KiB closes the connection", async () => {
    const client = await WireClient.connect(port);
    await client.request(ApiKey.SaslHandshake, 0, { mechanism: "PLAIN" });
    const size = Buffer.alloc(4);
    size.writeInt32BE(600 * 1024);
    client.send([size]);
    assert.equal(await client.closedWithin(3000), true);
  });

  test("SaslAuthenticate before SaslHandshake gets ILLEGAL_SASL_STATE, then a close", async () => {
    const client = await WireClient.connect(port);
    const answer = await client.request(ApiKey.SaslAuthenticate, 2, {
      authBytes: Buffer.from("\0alice\0alice-secret"),
    });
    assert.equal(answer.errorCode, KafkaError.ILLEGAL_SASL_STATE);
    assert.equal(await client.closedWithin(3000), true);
  });

  test("PLAIN over the wire: a good token authenticates, then other requests are served", async () => {
    const client = await WireClient.connect(port);
    try {
      const handshake = await client.request(ApiKey.SaslHandshake, 1, { mechanism: "PLAIN" });
      assert.equal(handshake.errorCode, 0);
      const answer = await client.request(ApiKey.SaslAuthenticate, 1, {
        authBytes: Buffer.from("alice\0alice\0alice-secret"),
      });
      assert.equal(answer.errorCode, 0);
      assert.equal(answer.sessionLifetimeMs, 0n);
      const metadata = await client.request(ApiKey.Metadata, 8, {
        topics: null,
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      });
      assert.equal(metadata.brokers.length, 1);
      const again = await client.request(ApiKey.SaslHandshake, 1, { mechanism: "PLAIN" });
      assert.equal(again.errorCode, KafkaError.ILLEGAL_SASL_STATE, "no second exchange");
    } finally {
      client.close();
    }
  });

  test("a connection that does not authenticate within auth_timeout_ms is closed", async () => {
    const client = await WireClient.connect(port);
    assert.equal(await client.closedWithin(3000), true);
    await broker.waitForLog((l) => l.msg === "Kafka connection closed: not authenticated in time");
  });

  test("a ban cuts the user's connections and refuses new ones; the outcomes are counted", async () => {
    const live = await WireClient.connect(port);
    await live.request(ApiKey.SaslHandshake, 1, { mechanism: "PLAIN" });
    const login = await live.request(ApiKey.SaslAuthenticate, 2, {
      authBytes: Buffer.from("\0alice\0alice-secret"),
    });
    assert.equal(login.errorCode, 0);
    const ban = await api.call("POST", "/api/v1/banned", { kind: "username", value: "alice" });
    assert.equal(ban.status, 201, JSON.stringify(ban.body));
    assert.equal(ban.body.kicked, 1);
    assert.equal(await live.closedWithin(3000), true);
    await broker.waitForLog(
      (l) => l.msg === "Kafka connection closed: banned" && l.username === "alice",
    );
    try {
      for (const mechanism of ["plain", "scram-sha-512"] as const) {
        const sasl = { mechanism, username: "alice", password: "alice-secret" } as SASLOptions;
        const error = await connectError(kafka(port, { sasl }));
        assert.match(error.message, /Authentication failed/, error.message);
      }
    } finally {
      await api.call("DELETE", "/api/v1/banned/username/alice");
    }
    assert.ok((await metric(api, "success")) >= 3);
    assert.ok((await metric(api, "failure")) >= 8);
  });

  test("a banned address cannot even connect", async () => {
    const ban = await api.call("POST", "/api/v1/banned", { kind: "ip", value: "127.0.0.1" });
    assert.equal(ban.status, 201, JSON.stringify(ban.body));
    try {
      const client = await WireClient.connect(port);
      assert.equal(await client.closedWithin(3000), true);
      await broker.waitForLog(
        (l) => l.msg === "Kafka connection refused: banned" && l.kind === "ip",
      );
    } finally {
      await api.call("DELETE", "/api/v1/banned/ip/127.0.0.1");
    }
  });
});

describe("TLS on the Kafka listener", () => {
  let certs: TestCerts;
  before(() => {
    certs = makeTestCerts();
  });
  after(() => certs.remove());

  test("SASL_SSL: SCRAM over TLS works, a plain TCP client gets nothing", async () => {
    const broker = await startBroker({
      logLevel: "info",
      config: `${AUTH_CONFIG}${KAFKA_CONFIG}tls = true\n${tlsConfig(certs, "handshake_timeout_ms = 500\n")}`,
    });
    try {
      const api = await adminApi(broker);
      await api.call("POST", "/api/v1/users", { username: "bob", password: "bob-secret" });
      const port = broker.kafkaPort ?? 0;
      // A client that never finishes its handshake is cut off (else it holds a connection slot).
      const stalled = await WireClient.connect(port);
      assert.equal(await stalled.closedWithin(3000), true, "closed at handshake_timeout_ms");
      const ssl = { ca: [certs.ca], servername: "localhost" };
      const sasl = { mechanism: "scram-sha-256", username: "bob", password: "bob-secret" } as const;
      assert.equal(
        await roundTrip(kafka(port, { ssl, sasl }), "tls-topic", "over tls"),
        "over tls",
      );
      await connectError(kafka(port, { sasl }));
      await broker.waitForLog((l) => l.msg === "closing Kafka TLS connection", 5000);
    } finally {
      await broker.stop();
    }
  });

  test("a verified client certificate authenticates without SASL; no certificate is refused", async () => {
    const broker = await startBroker({
      logLevel: "info",
      config: `${AUTH_CONFIG}${KAFKA_CONFIG}tls = true\n${tlsConfig(certs, "verify_client = true\n")}`,
    });
    try {
      const port = broker.kafkaPort ?? 0;
      const ssl = {
        ca: [certs.ca],
        servername: "localhost",
        cert: certs.alice.cert,
        key: certs.alice.key,
      };
      assert.equal(
        await roundTrip(kafka(port, { ssl }), "mtls-topic", "with a cert"),
        "with a cert",
      );
      // SASL_SSL clients send their certificate and authenticate by SASL too, as with Kafka.
      const api = await adminApi(broker);
      await api.call("POST", "/api/v1/users", { username: "bob", password: "bob-secret" });
      const sasl = { mechanism: "scram-sha-512", username: "bob", password: "bob-secret" } as const;
      assert.equal(
        await roundTrip(kafka(port, { ssl, sasl }), "mtls-sasl-topic", "cert and sasl"),
        "cert and sasl",
      );
      await connectError(kafka(port, { ssl: { ca: [certs.ca], servername: "localhost" } }));
      await broker.waitForLog(
        (l) =>
          l.msg === "closing Kafka TLS connection" &&
          l.reason === "no client certificate presented",
        5000,
      );
    } finally {
      await broker.stop();
    }
  });
});

test("without authenticators the listener is open and SASL is not advertised", async () => {
  const broker = await startBroker({ logLevel: "info" });
  const client = await WireClient.connect(broker.kafkaPort ?? 0);
  try {
    const versions = await client.request(ApiKey.ApiVersions, 3, {
      clientSoftwareName: "wire",
      clientSoftwareVersion: "1",
    });
    assert.equal(
      versions.apiKeys.some((k) => k.apiKey === ApiKey.SaslHandshake),
      false,
    );
    const metadata = await client.request(ApiKey.Metadata, 8, {
      topics: null,
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    assert.equal(metadata.brokers.length, 1);
  } finally {
    client.close();
    await broker.stop();
  }
});

describe("anonymous access beside SASL (allow_anonymous = true)", () => {
  let broker: BrokerProcess;
  let api: AdminApi;
  let port: number;
  before(async () => {
    broker = await startBroker({
      logLevel: "info",
      config: `${AUTH_CONFIG}${KAFKA_CONFIG}allow_anonymous = true\n`,
    });
    api = await adminApi(broker);
    port = broker.kafkaPort ?? 0;
  });
  after(async () => {
    await broker?.stop();
  });

  const createTopicFrame = (name: string) =>
    encodeRequestFrame(ApiKey.CreateTopics, 4, 99, "wire-test", {
      topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 1000,
      validateOnly: false,
    });
  const topicNames = async () => {
    const admin = kafka(port).admin();
    await admin.connect();
    try {
      return await admin.listTopics();
    } finally {
      await admin.disconnect();
    }
  };

  test("nothing sent after a failed SASL step is served", async () => {
    // A client that keeps its side open after the broker's FIN could still send requests.
    const socket = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    socket.on("error", () => {});
    await once(socket, "connect");
    let received = Buffer.alloc(0);
    const answers = (count: number) =>
      new Promise<void>((resolve) => {
        const check = () => {
          let at = 0;
          for (let n = 0; n < count; n++) {
            if (received.length < at + 4) return;
            at += 4 + received.readInt32BE(at);
          }
          if (received.length >= at) resolve();
        };
        socket.on("data", (chunk: Buffer) => {
          received = Buffer.concat([received, chunk]);
          check();
        });
      });
    const both = answers(2);
    socket.write(
      Buffer.concat([
        ...encodeRequestFrame(ApiKey.SaslHandshake, 1, 1, "wire-test", { mechanism: "PLAIN" }),
        ...encodeRequestFrame(ApiKey.SaslAuthenticate, 2, 2, "wire-test", {
          authBytes: Buffer.from("\0nobody\0wrong"),
        }),
      ]),
    );
    await both;
    const before = received.length;
    socket.write(Buffer.concat(createTopicFrame("after-failure")));
    // The broker drops the connection 1 s after its FIN at the latest.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    socket.destroy();
    assert.equal(received.length, before, "no answer after the refusal");
    assert.equal((await topicNames()).includes("after-failure"), false);
  });

  test("nothing but SASL is served in the middle of an exchange", async () => {
    const client = await WireClient.connect(port);
    await client.request(ApiKey.SaslHandshake, 1, { mechanism: "SCRAM-SHA-256" });
    const first = await client.request(ApiKey.SaslAuthenticate, 2, {
      authBytes: Buffer.from("n,,n=alice,r=abcdefgh"),
    });
    assert.equal(first.errorCode, 0);
    client.send(createTopicFrame("mid-exchange"));
    assert.equal(await client.nextFrame(3000), null, "no answer, the connection closes");
    assert.equal((await topicNames()).includes("mid-exchange"), false);
  });

  test("a banned client id is refused without authenticating too", async () => {
    const ban = await api.call("POST", "/api/v1/banned", { kind: "client_id", value: "evil" });
    assert.equal(ban.status, 201, JSON.stringify(ban.body));
    try {
      const error = await connectError(kafka(port, { clientId: "evil" }));
      assert.ok(error instanceof Error);
      await broker.waitForLog(
        (l) => l.msg === "Kafka connection closed: banned" && l.clientId === "evil",
        3000,
      );
    } finally {
      await api.call("DELETE", "/api/v1/banned/client_id/evil");
    }
  });
});
