/**
 * One generator connection against scripted servers: every way a connect can fail is reported
 * with its kind, never as a hang; a connected client reports how it was lost; TLS verification
 * and source addresses work.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { after, describe, test } from "node:test";
import { Client, ClientState, type ConnectTarget } from "../../../src/bench/client.ts";
import type { TlsOptions } from "../../../src/bench/options.ts";
import { connectPacket } from "../../../src/bench/wire.ts";
import type { ProtocolLevel } from "../../../src/protocol/mqtt/index.ts";
import {
  accepting,
  type FakeBroker,
  type FakeHandler,
  fakeBroker,
  selfSignedCertificate,
} from "./fake-broker.ts";

type Outcome =
  | { event: "connected"; latencyMicros: number; client: Client }
  | { event: "failed"; kind: string };

interface Attempt {
  outcome: Promise<Outcome>;
  lost: Promise<string>;
}

const brokers: FakeBroker[] = [];
after(async () => {
  await Promise.all(brokers.map((b) => b.close()));
});

async function broker(handler: FakeHandler, tls?: { key: string; cert: string }): Promise<number> {
  const started = await fakeBroker(handler, tls);
  brokers.push(started);
  return started.port;
}

function attempt(
  port: number,
  overrides: Partial<ConnectTarget> = {},
  version: ProtocolLevel = 5,
): Attempt {
  let resolveLost: (kind: string) => void = () => {};
  const lost = new Promise<string>((resolve) => {
    resolveLost = resolve;
  });
  const outcome = new Promise<Outcome>((resolve) => {
    const client = new Client(0, "conn", "test-conn-0", version, {
      connected: (c, latencyMicros) => resolve({ event: "connected", latencyMicros, client: c }),
      connectFailed: (_c, kind) => resolve({ event: "failed", kind }),
      lost: (_c, kind) => resolveLost(kind),
    });
    const target: ConnectTarget = {
      host: "127.0.0.1",
      port,
      tls: null,
      localAddress: null,
      timeoutMs: 2000,
      keepAliveSeconds: 60,
      ...overrides,
    };
    const fields = { clientId: client.clientId, cleanStart: true, keepAliveSeconds: 0 };
    client.open(
      target,
      connectPacket({
        ...fields,
        protocolVersion: version,
        sessionExpirySeconds: null,
        username: null,
        password: null,
      }),
    );
  });
  return { outcome, lost };
}

async function failure(attemptOf: Attempt): Promise<string> {
  const outcome = await attemptOf.outcome;
  assert.equal(outcome.event, "failed", JSON.stringify(outcome));
  return outcome.event === "failed" ? outcome.kind : "";
}

/** A port nobody listens on: bound, then closed again. */
async function closedPort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === "object" && address !== null ? address.port : 0;
}

describe("connect outcomes", () => {
  test("a CONNACK 0 connects and measures the handshake", async () => {
    const outcome = await attempt(await broker(accepting())).outcome;
    assert.equal(outcome.event, "connected");
    if (outcome.event !== "connected") return;
    assert.ok(
      outcome.latencyMicros > 0 && outcome.latencyMicros < 2_000_000,
      `${outcome.latencyMicros}`,
    );
    assert.equal(outcome.client.state, ClientState.CONNECTED);
    outcome.client.close();
  });

  test("a refused connection is ECONNREFUSED", async () => {
    assert.equal(await failure(attempt(await closedPort())), "connect:ECONNREFUSED");
  });

  test("a CONNACK refusal names its reason code, v5 and v3.1.1", async () => {
    const port = await broker((connection, packet) => {
      if (packet.type !== "connect") return;
      const refusal = connection.version === 5 ? 0x87 : 0x05;
      connection.send({ type: "connack", sessionPresent: false, reasonCode: refusal });
    });
    assert.equal(await failure(attempt(port, {}, 5)), "connect:connack 0x87 NOT_AUTHORIZED");
    assert.equal(await failure(attempt(port, {}, 4)), "connect:connack 0x05 NOT_AUTHORIZED");
  });

  test("a server that never answers times out", async () => {
    const port = await broker(() => {});
    const started = performance.now();
    assert.equal(await failure(attempt(port, { timeoutMs: 200 })), "connect:timeout");
    assert.ok(performance.now() - started < 1500);
  });

  test("a server that hangs up before CONNACK", async () => {
    const port = await broker((connection) => connection.socket.end());
    assert.match(await failure(attempt(port)), /^connect:(closed|ECONNRESET)$/);
  });

  test("garbage instead of CONNACK is a protocol error", async () => {
    const port = await broker((connection) => connection.socket.write(Buffer.from([0x00, 0x00])));
    assert.equal(await failure(attempt(port)), "connect:protocol RMQ_ERR_MQTT_MALFORMED_PACKET");
  });

  test("a packet other than CONNACK first", async () => {
    const port = await broker((connection) => connection.send({ type: "pingresp" }));
    assert.equal(await failure(attempt(port)), "connect:protocol pingresp before CONNACK");
  });

  test("an aborted handshake reports the kind it was given", async () => {
    const port = await broker(() => {});
    let client: Client | null = null;
    const kind = new Promise<string>((resolve) => {
      client = new Client(1, "conn", "c", 4, {
        connected: () => resolve("connected"),
        connectFailed: (_c, k) => resolve(k),
        lost: () => {},
      });
      client.open(
        {
          host: "127.0.0.1",
          port,
          tls: null,
          localAddress: null,
          timeoutMs: 5000,
          keepAliveSeconds: 0,
        },
        Buffer.from([0x10, 0x00]),
      );
    });
    (client as Client | null)?.abortConnect("connect:deadline");
    assert.equal(await kind, "connect:deadline");
  });
});

describe("losing a connected client", () => {
  test("a v5 DISCONNECT names its reason code", async () => {
    const port = await broker(
      accepting((connection, packet) => {
        if (packet.type === "pingreq") connection.send({ type: "disconnect", reasonCode: 0x8e });
      }),
    );
    const started = attempt(port);
    const outcome = await started.outcome;
    assert.ok(outcome.event === "connected");
    outcome.client.pingIfDue(performance.now() + 60_000);
    assert.equal(await started.lost, "lost:disconnect 0x8E SESSION_TAKEN_OVER");
  });

  test("a plain close", async () => {
    const port = await broker(accepting((connection) => connection.socket.end()));
    const started = attempt(port);
    const outcome = await started.outcome;
    assert.ok(outcome.event === "connected");
    outcome.client.pingIfDue(performance.now() + 60_000);
    assert.match(await started.lost, /^lost:(closed|ECONNRESET)$/);
  });

  test("closing it ourselves is not a loss", async () => {
    const port = await broker(accepting());
    const started = attempt(port);
    const outcome = await started.outcome;
    assert.ok(outcome.event === "connected");
    outcome.client.close();
    const lost = await Promise.race([
      started.lost,
      new Promise((r) => setTimeout(() => r("none"), 200)),
    ]);
    assert.equal(lost, "none");
  });
});

describe("keep alive", () => {
  test("PINGREQ at half the keep alive, or half the server's (MQTT 5 CONNACK)", async () => {
    const pings = new Map<string, number>();
    const port = await broker((connection, packet) => {
      if (packet.type === "connect") {
        const serverKeepAlive = packet.clientId === "test-conn-0" ? 1 : undefined;
        const properties = serverKeepAlive === undefined ? undefined : { serverKeepAlive };
        connection.send({ type: "connack", sessionPresent: false, reasonCode: 0, properties });
      } else if (packet.type === "pingreq") {
        pings.set(connection.clientId, (pings.get(connection.clientId) ?? 0) + 1);
      }
    });
    const told = await attempt(port, { keepAliveSeconds: 60 }).outcome;
    assert.ok(told.event === "connected");
    const now = performance.now();
    told.client.pingIfDue(now + 400); // server keep alive 1 s: due after 500 ms
    told.client.pingIfDue(now + 600);
    told.client.pingIfDue(now + 700); // not again so soon
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(pings.get("test-conn-0"), 1);
    told.client.close();
  });
});

describe("source addresses", () => {
  test("connections come from the address asked for", async () => {
    const started = await fakeBroker(accepting());
    brokers.push(started);
    const outcome = await attempt(started.port, { localAddress: "127.0.0.3" }).outcome;
    assert.equal(outcome.event, "connected");
    assert.equal(started.connections[0]?.socket.remoteAddress, "127.0.0.3");
    if (outcome.event === "connected") outcome.client.close();
  });
});

describe("TLS", () => {
  const material = selfSignedCertificate();
  const skip = material === null ? "openssl is not installed" : false;

  async function tlsAttempt(tls: TlsOptions): Promise<Outcome> {
    assert.ok(material !== null);
    const port = await broker(accepting(), material);
    return attempt(port, { tls }).outcome;
  }

  test("--insecure accepts a self-signed certificate", { skip }, async () => {
    const outcome = await tlsAttempt({ caPem: null, insecure: true });
    assert.equal(outcome.event, "connected");
    if (outcome.event === "connected") outcome.client.close();
  });

  test("--ca makes the certificate trusted", { skip }, async () => {
    const outcome = await tlsAttempt({ caPem: material?.cert ?? null, insecure: false });
    assert.equal(outcome.event, "connected", JSON.stringify(outcome));
    if (outcome.event === "connected") outcome.client.close();
  });

  test("an untrusted certificate is a connect error naming the reason", { skip }, async () => {
    const outcome = await tlsAttempt({ caPem: null, insecure: false });
    assert.deepEqual(outcome, { event: "failed", kind: "connect:DEPTH_ZERO_SELF_SIGNED_CERT" });
  });
});
