/**
 * MqttConnection.sendPacket over an in-memory stream: reason strings that quote what a client
 * sent are cut to a bounded length, and a packet the encoder refuses closes that connection
 * instead of throwing (a throw in a callback would end the process).
 */
import assert from "node:assert/strict";
import { Duplex } from "node:stream";
import { test } from "node:test";
import { MqttBroker } from "../../../../src/broker/mqtt/broker.ts";
import { ConnectionState, MqttConnection } from "../../../../src/broker/mqtt/connection.ts";
import { defaultConfig } from "../../../../src/config/load.ts";
import { createLogger } from "../../../../src/log/logger.ts";
import { MqttParser, type Packet } from "../../../../src/protocol/mqtt/index.ts";

function connection(): { conn: MqttConnection; written: () => Packet[] } {
  const broker = new MqttBroker(defaultConfig(), createLogger({ level: "silent", format: "json" }));
  const chunks: Buffer[] = [];
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  const conn = new MqttConnection(broker, stream, "127.0.0.1:1");
  conn.protocolVersion = 5;
  return {
    conn,
    written() {
      const packets: Packet[] = [];
      const parser = new MqttParser((packet) => packets.push(packet), 1 << 24);
      parser.protocolVersion = 5;
      assert.equal(parser.push(Buffer.concat(chunks)), null);
      return packets;
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test("a reason string past 1,024 characters is cut, never inside a surrogate pair", async () => {
  for (const [reason, kept] of [
    ["x".repeat(70_000), "x".repeat(1024)],
    [`${"a".repeat(1023)}😀 and more`, "a".repeat(1023)],
  ]) {
    const { conn, written } = connection();
    conn.sendPacket({ type: "disconnect", reasonCode: 0x80, properties: { reasonString: reason } });
    conn.close("test over", false);
    await tick();
    const [packet] = written();
    assert.equal(packet.type, "disconnect");
    assert.equal(packet.properties?.reasonString, `${kept}...`);
  }
});

test("a packet the encoder refuses closes the connection instead of throwing", async () => {
  const { conn, written } = connection();
  // A topic longer than an MQTT string can be: the encoder asserts.
  const publish: Packet = {
    type: "publish",
    topic: "t".repeat(70_000),
    payload: Buffer.from("x"),
    qos: 0,
    retain: false,
    dup: false,
  };
  assert.doesNotThrow(() => conn.sendPacket(publish));
  assert.equal(conn.state, ConnectionState.CLOSED);
  assert.equal(conn.closeReason, "internal error");
  await tick();
  assert.deepEqual(written(), [], "nothing of the packet was written");
});
