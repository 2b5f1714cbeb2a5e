/**
 * A QoS 2 message of a shared subscription whose PUBLISH went out to one member stays with that
 * member when its connection breaks (found by the simulation, seeds 1029 and 1260). MQTT 5
 * section 4.8.2: "If the Server is in the process of sending a QoS 2 message to its chosen
 * subscribing Client and the connection to the Client breaks before delivery is complete, the
 * Server MUST complete the delivery of the message to that Client when it reconnects
 * [MQTT-4.8.2-4] ... If the Client's Session terminates before the Client reconnects, the
 * Server MUST NOT send the Application Message to any other subscribed Client [MQTT-4.8.2-5]."
 * A receiver may hand a QoS 2 message on as soon as it has the PUBLISH (method A, MQTT 5
 * figure 4.3), so a second member's copy would be a duplicate.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MqttBroker } from "../../../../../src/broker/mqtt/broker.ts";
import { defaultConfig } from "../../../../../src/config/load.ts";
import { createLogger } from "../../../../../src/log/logger.ts";
import { ScriptClient, settle as settleTurns } from "./script-client.ts";

const settle = () => settleTurns(5);

/** Members a and b of $share/g/s/# at QoS 2; a gets one QoS 2 message and does not answer. */
async function messageInFlightAtA(aExpiryS: number) {
  const config = defaultConfig();
  config.mqtt_limits.shared_subscription_strategy = "round_robin";
  const broker = new MqttBroker(config, createLogger({ level: "silent", format: "json" }));
  const subscribe = { topicFilter: "$share/g/s/#", qos: 2 } as const;
  const options = { noLocal: false, retainAsPublished: false, retainHandling: 0 } as const;
  const a = new ScriptClient(broker, "a", aExpiryS);
  const b = new ScriptClient(broker, "b", 60);
  const p = new ScriptClient(broker, "p", 0);
  await settle();
  a.send({ type: "subscribe", packetId: 1, subscriptions: [{ ...subscribe, ...options }] });
  b.send({ type: "subscribe", packetId: 1, subscriptions: [{ ...subscribe, ...options }] });
  await settle();
  const payload = Buffer.from("once");
  p.send({
    type: "publish",
    topic: "s/x",
    payload,
    qos: 2,
    retain: false,
    dup: false,
    packetId: 1,
  });
  await settle();
  assert.equal(a.publishes().length, 1, "round robin starts with the first member, a");
  assert.equal(b.publishes().length, 0);
  // a has the PUBLISH (and may have handed it on); its connection breaks before PUBREC.
  a.socket.clientReset();
  await settle();
  return { broker, a, b, p, packetId: a.publishes()[0].packetId };
}

function closeAll(...clients: ScriptClient[]): void {
  for (const client of clients) client.socket.clientReset();
}

test("a shared QoS 2 message in flight stays with its member across a reconnect", async () => {
  const { broker, a, b, p, packetId } = await messageInFlightAtA(60);
  try {
    assert.equal(b.publishes().length, 0, "the other member got it too: the group has it twice");
    const again = new ScriptClient(broker, "a", 60);
    await settle();
    const resent = again.publishes();
    assert.equal(resent.length, 1, "resent to a on resume [MQTT-4.4.0-1]");
    assert.equal(resent[0].dup, true);
    assert.equal(resent[0].packetId, packetId);
    closeAll(again);
  } finally {
    closeAll(a, b, p);
    await settle();
  }
});

test("a shared QoS 2 message in flight is not sent to another member when the session ends", async () => {
  const { a, b, p } = await messageInFlightAtA(0); // expiry 0: the session ends with the connection
  try {
    assert.equal(b.publishes().length, 0, "sent to another member after the session ended");
  } finally {
    closeAll(a, b, p);
    await settle();
  }
});
