/**
 * A scripted v5 client for the short reproductions beside the simulation: it sends what it is
 * told on an in-memory socket and keeps everything it reads. It connects with Clean Start 0, so
 * a second one with the same client id resumes the session.
 */
import assert from "node:assert/strict";
import type { MqttBroker } from "../../../../../src/broker/mqtt/broker.ts";
import {
  encode,
  MqttParser,
  type Packet,
  type PublishPacket,
} from "../../../../../src/protocol/mqtt/index.ts";
import { SimSocket, type SocketPeer } from "./sim-socket.ts";

export class ScriptClient implements SocketPeer {
  readonly received: Packet[] = [];
  readonly socket: SimSocket;
  private readonly parser: MqttParser;

  constructor(broker: MqttBroker, clientId: string, expiryS = 0) {
    this.socket = new SimSocket(this, clientId);
    this.parser = new MqttParser((packet) => this.received.push(packet), 1 << 20);
    this.parser.protocolVersion = 5;
    broker.accept(this.socket, `script:${clientId}`);
    this.send({
      type: "connect",
      protocolName: "MQTT",
      protocolVersion: 5,
      cleanStart: false,
      keepAlive: 0,
      clientId,
      properties: { sessionExpiryInterval: expiryS },
    });
  }

  onServerBytes(_socket: SimSocket, chunk: Buffer): void {
    assert.equal(this.parser.push(chunk), null);
  }

  onServerEnd(): void {}

  /** Sends the packets in one write, so the broker reads them in one turn. */
  send(...packets: Packet[]): void {
    this.socket.send(Buffer.concat(packets.map((packet) => encode(packet, 5))));
  }

  publishes(): PublishPacket[] {
    return this.received.filter((p): p is PublishPacket => p.type === "publish");
  }
}

/** Lets `turns` event-loop turns pass, so the broker handles what was sent. */
export async function settle(turns: number): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}
