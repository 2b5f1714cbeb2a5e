/**
 * MQTT 5 enhanced authentication (section 4.12): CONNECT/AUTH/CONNACK exchanges and
 * re-authentication. Authenticators are code, not configuration, so this file runs the broker
 * in this process, on a free port, with test authenticators.
 */
import assert from "node:assert/strict";
import type { Server } from "node:net";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import type { AuthStep, EnhancedAuthenticator } from "../../src/broker/mqtt/auth.ts";
import { MqttBroker } from "../../src/broker/mqtt/broker.ts";
import { listenTcp } from "../../src/broker/mqtt/listener.ts";
import { defaultConfig } from "../../src/config/load.ts";
import type { Properties } from "../../src/protocol/mqtt/index.ts";
import { uniqueName } from "../helpers/mqtt-clients.ts";
import { connectPacket, connectRaw, openRaw, type RawClient } from "../helpers/raw-client.ts";

const CHALLENGE = "TEST-CHALLENGE";
const ASYNC = "TEST-ASYNC";
const BROKEN = "TEST-BROKEN";
/** Short, so that an exchange the client abandons is cut off quickly. */
const CONNECT_TIMEOUT_MS = 500;

/**
 * Two steps: the client opens with "client-first", the server answers with a nonce, the client
 * must send back "answer-<nonce>"; success carries "server-final".
 */
function challengeAuthenticator(): EnhancedAuthenticator {
  let counter = 0;
  return {
    method: CHALLENGE,
    start(_context, data): AuthStep {
      if (data?.toString() !== "client-first") return { result: "fail" };
      counter++;
      const nonce = `nonce-${counter}`;
      return { result: "continue", data: Buffer.from(nonce), state: nonce };
    },
    continue(_context, data, state): AuthStep {
      if (data?.toString() !== `answer-${state as string}`) return { result: "fail" };
      return { result: "success", data: Buffer.from("server-final") };
    },
  };
}

/** One asynchronous step that accepts only the client id it is told about in the data. */
const asyncAuthenticator: EnhancedAuthenticator = {
  method: ASYNC,
  async start(context, data) {
    await new Promise((resolve) => setImmediate(resolve));
    if (data?.toString() !== context.clientId) return { result: "fail", reasonCode: 0x86 };
    return { result: "success" };
  },
  continue: () => ({ result: "fail" }),
};

/** An authenticator with a bug: its promise rejects. */
const brokenAuthenticator: EnhancedAuthenticator = {
  method: BROKEN,
  start: () => Promise.reject(new Error("backend down")),
  continue: () => ({ result: "fail" }),
};

function auth(method: string, data?: string): Properties {
  return {
    authenticationMethod: method,
    authenticationData: data === undefined ? undefined : Buffer.from(data),
  };
}

/** Runs the two-step exchange from CONNECT to CONNACK 0 and returns the connected client. */
async function challengeConnect(port: number, clientId: string): Promise<RawClient> {
  const client = await openRaw(port, 5);
  client.send(connectPacket({ clientId, properties: auth(CHALLENGE, "client-first") }));
  const challenge = await client.expect("auth");
  const nonce = challenge.properties?.authenticationData?.toString();
  client.send({ type: "auth", reasonCode: 0x18, properties: auth(CHALLENGE, `answer-${nonce}`) });
  const connack = await client.expect("connack");
  assert.equal(connack.reasonCode, 0);
  return client;
}

/** Subscribes and publishes to itself: the connection is fully usable. */
async function assertUsable(client: RawClient): Promise<void> {
  const topic = uniqueName("auth/echo");
  await client.subscribe([{ topicFilter: topic }]);
  client.publish(topic, "echo");
  const publish = await client.expect("publish");
  assert.equal(publish.payload.toString(), "echo");
}

describe("enhanced authentication (v5 AUTH)", () => {
  let broker: MqttBroker;
  let server: Server;
  let port: number;
  const clients: RawClient[] = [];
  const track = (client: RawClient) => {
    clients.push(client);
    return client;
  };

  before(async () => {
    const config = defaultConfig();
    config.mqtt_limits.connect_timeout_ms = CONNECT_TIMEOUT_MS;
    broker = new MqttBroker(config, pino({ level: "silent" }), {
      authenticators: [challengeAuthenticator(), asyncAuthenticator, brokenAuthenticator],
    });
    const listener = await listenTcp(broker, "127.0.0.1", 0);
    server = listener.server;
    port = listener.address.port;
  });
  after(async () => {
    for (const client of clients) client.destroy();
    server.close();
    await broker.shutdown(2000);
  });

  test("an unknown Authentication Method is refused with CONNACK 0x8C", async () => {
    const client = track(await openRaw(port, 5));
    client.send(
      connectPacket({ clientId: uniqueName("unknown"), properties: auth("NO-SUCH-METHOD") }),
    );
    const connack = await client.expect("connack");
    assert.equal(connack.reasonCode, 0x8c);
    await client.waitClosed();
  });

  test("a two-step challenge/response ends in CONNACK with the method and the server's data", async () => {
    const client = track(await openRaw(port, 5));
    client.send(
      connectPacket({
        clientId: uniqueName("two-step"),
        properties: auth(CHALLENGE, "client-first"),
      }),
    );
    const challenge = await client.expect("auth");
    assert.equal(challenge.reasonCode, 0x18, "Continue authentication");
    assert.equal(challenge.properties?.authenticationMethod, CHALLENGE);
    const nonce = challenge.properties?.authenticationData?.toString() ?? "";
    assert.match(nonce, /^nonce-\d+$/);

    client.send({ type: "auth", reasonCode: 0x18, properties: auth(CHALLENGE, `answer-${nonce}`) });
    const connack = await client.expect("connack");
    assert.equal(connack.reasonCode, 0);
    assert.equal(connack.properties?.authenticationMethod, CHALLENGE);
    assert.equal(connack.properties?.authenticationData?.toString(), "server-final");
    await assertUsable(client);
  });

  test("a wrong response is refused with CONNACK 0x87 and the socket closes", async () => {
    const client = track(await openRaw(port, 5));
    client.send(
      connectPacket({ clientId: uniqueName("wrong"), properties: auth(CHALLENGE, "client-first") }),
    );
    await client.expect("auth");
    client.send({ type: "auth", reasonCode: 0x18, properties: auth(CHALLENGE, "answer-guessed") });
    const connack = await client.expect("connack");
    assert.equal(connack.reasonCode, 0x87);
    assert.equal(connack.sessionPresent, false);
    await client.waitClosed();
  });

  test("an exchange the client never finishes is closed at connect_timeout_ms", async () => {
    const startedMs = Date.now();
    const client = track(await openRaw(port, 5));
    client.send(
      connectPacket({
        clientId: uniqueName("abandoned"),
        properties: auth(CHALLENGE, "client-first"),
      }),
    );
    assert.equal((await client.expect("auth")).reasonCode, 0x18);
    await client.waitClosed(CONNECT_TIMEOUT_MS + 3000);
    assert.ok(Date.now() - startedMs >= CONNECT_TIMEOUT_MS - 10, "not before the timeout");
    assert.deepEqual(client.buffered, [], "no CONNACK");
  });

  test("an asynchronous authenticator completes in one step", async () => {
    const clientId = uniqueName("async");
    const client = track(await openRaw(port, 5));
    client.send(connectPacket({ clientId, properties: auth(ASYNC, clientId) }));
    const connack = await client.expect("connack");
    assert.equal(connack.reasonCode, 0);
    assert.equal(connack.properties?.authenticationMethod, ASYNC);
    assert.equal(connack.properties?.authenticationData, undefined);

    const refused = track(await openRaw(port, 5));
    refused.send(
      connectPacket({ clientId: uniqueName("async"), properties: auth(ASYNC, "someone") }),
    );
    assert.equal((await refused.expect("connack")).reasonCode, 0x86, "the authenticator's code");
    await refused.waitClosed();
  });

  test("an authenticator that throws refuses the client (CONNACK 0x80), not the broker", async () => {
    const client = track(await openRaw(port, 5));
    client.send(connectPacket({ clientId: uniqueName("broken"), properties: auth(BROKEN) }));
    assert.equal((await client.expect("connack")).reasonCode, 0x80);
    await client.waitClosed();
    await assertUsable(track(await challengeConnect(port, uniqueName("after-broken"))));
  });

  test("[MQTT-4.12.1-1] re-authentication (AUTH 0x19) succeeds with AUTH 0x00", async () => {
    const client = track(await challengeConnect(port, uniqueName("reauth")));
    client.send({ type: "auth", reasonCode: 0x19, properties: auth(CHALLENGE, "client-first") });
    const challenge = await client.expect("auth");
    assert.equal(challenge.reasonCode, 0x18);
    const nonce = challenge.properties?.authenticationData?.toString();
    client.send({ type: "auth", reasonCode: 0x18, properties: auth(CHALLENGE, `answer-${nonce}`) });
    const done = await client.expect("auth");
    assert.equal(done.reasonCode, 0x00);
    assert.equal(done.properties?.authenticationMethod, CHALLENGE);
    assert.equal(done.properties?.authenticationData?.toString(), "server-final");
    await assertUsable(client);
  });

  test("AUTH 0x18 with no exchange in progress is a protocol error (0x82), not a step", async () => {
    const client = track(await challengeConnect(port, uniqueName("stray-continue")));
    // "answer-undefined" is what the authenticator would accept for a missing state.
    client.send({
      type: "auth",
      reasonCode: 0x18,
      properties: auth(CHALLENGE, "answer-undefined"),
    });
    const disconnect = await client.expect("disconnect");
    assert.equal(disconnect.reasonCode, 0x82);
    await client.waitClosed();
  });

  test("AUTH 0x18 after a completed re-authentication is a protocol error (0x82)", async () => {
    const client = track(await challengeConnect(port, uniqueName("replayed-continue")));
    client.send({ type: "auth", reasonCode: 0x19, properties: auth(CHALLENGE, "client-first") });
    const nonce = (await client.expect("auth")).properties?.authenticationData?.toString();
    const answer: Properties = auth(CHALLENGE, `answer-${nonce}`);
    client.send({ type: "auth", reasonCode: 0x18, properties: answer });
    assert.equal((await client.expect("auth")).reasonCode, 0x00);
    client.send({ type: "auth", reasonCode: 0x18, properties: answer }); // replayed
    assert.equal((await client.expect("disconnect")).reasonCode, 0x82);
    await client.waitClosed();
  });

  test("[MQTT-4.12.1-2] failed re-authentication closes with DISCONNECT 0x87", async () => {
    const client = track(await challengeConnect(port, uniqueName("reauth-fail")));
    client.send({ type: "auth", reasonCode: 0x19, properties: auth(CHALLENGE, "client-first") });
    await client.expect("auth");
    client.send({ type: "auth", reasonCode: 0x18, properties: auth(CHALLENGE, "answer-wrong") });
    const disconnect = await client.expect("disconnect");
    assert.equal(disconnect.reasonCode, 0x87);
    await client.waitClosed();
  });

  test("[MQTT-3.15.2-1] AUTH from a client that connected without a method gets DISCONNECT 0x82", async () => {
    const { client } = await connectRaw(port, { clientId: uniqueName("no-method") });
    track(client);
    client.send({ type: "auth", reasonCode: 0x19, properties: auth(CHALLENGE, "client-first") });
    const disconnect = await client.expect("disconnect");
    assert.equal(disconnect.reasonCode, 0x82);
    await client.waitClosed();
  });

  test("[MQTT-3.15.2-1] AUTH with a method other than CONNECT's gets DISCONNECT 0x82", async () => {
    const client = track(await challengeConnect(port, uniqueName("other-method")));
    client.send({ type: "auth", reasonCode: 0x19, properties: auth(ASYNC, "x") });
    const disconnect = await client.expect("disconnect");
    assert.equal(disconnect.reasonCode, 0x82);
    await client.waitClosed();
  });
});
