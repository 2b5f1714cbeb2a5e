/**
 * Graceful shutdown of the real broker process on SIGTERM and SIGINT: MQTT 5 clients are told
 * why (DISCONNECT 0x8B), every socket is closed, and the process exits 0.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { IDisconnectPacket } from "mqtt";
import { startBroker } from "../helpers/broker-process.ts";
import { ClientTracker, connectMqtt, uniqueName, withTimeout } from "../helpers/mqtt-clients.ts";
import { connectRaw, openRaw } from "../helpers/raw-client.ts";

/** The broker gives clients 5 s to go; the whole stop must fit well inside this. */
const STOP_TIMEOUT_MS = 10_000;

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  test(`${signal}: v5 clients get DISCONNECT 0x8B, every socket closes, exit status 0`, async () => {
    const broker = await startBroker();
    const tracker = new ClientTracker();
    try {
      const v5 = tracker.raw(
        await connectRaw(broker.port, { clientId: uniqueName("down-v5") }),
      ).client;
      const v4 = tracker.raw(
        await connectRaw(broker.port, { clientId: uniqueName("down-v4"), version: 4 }),
      ).client;
      const v3 = tracker.raw(
        await connectRaw(broker.port, { clientId: uniqueName("down-v3"), version: 3 }),
      ).client;
      // A socket that has not sent CONNECT yet is closed too.
      const idle = tracker.raw(await openRaw(broker.port, 5));
      const mqttjs = tracker.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
      const mqttjsDisconnect = new Promise<IDisconnectPacket>((resolve) => {
        mqttjs.once("disconnect", resolve);
      });
      // Every client is attached (a PINGREQ round trip each) before the signal.
      for (const client of [v5, v4, v3]) assert.deepEqual(await client.drain(), []);

      const exitCode = await withTimeout(
        broker.stop(signal),
        STOP_TIMEOUT_MS,
        `exit after ${signal}`,
      );
      assert.equal(exitCode, 0);

      const disconnect = await v5.expect("disconnect");
      assert.equal(disconnect.reasonCode, 0x8b, "Server shutting down");
      await v5.waitClosed();
      for (const client of [v4, v3]) {
        await client.waitClosed();
        assert.deepEqual(client.buffered, [], "v3 has no DISCONNECT from the server");
      }
      await idle.waitClosed();
      assert.deepEqual(idle.received, []);
      const packet = await withTimeout(
        mqttjsDisconnect,
        STOP_TIMEOUT_MS,
        "mqtt.js disconnect event",
      );
      assert.equal(packet.reasonCode, 0x8b);
      assert.ok(
        broker.logs.some((l) => l.msg === "RobustMQ stopped"),
        "the node logs a completed stop",
      );
    } finally {
      await tracker.closeAll();
      await broker.stop("SIGKILL");
    }
  });
}
