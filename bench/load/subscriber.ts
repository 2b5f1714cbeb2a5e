/**
 * The measuring end of a workload: one subscriber on `${topicPrefix}/+` that counts PUBLISH
 * packets and, at QoS 1, acknowledges every one (the acks of one socket read go out in one
 * write).
 */
import type { Packet } from "../../src/protocol/mqtt/index.ts";
import {
  type Flow,
  fail,
  type LoadSpec,
  openClient,
  PAYLOAD_BYTES,
  type RawClient,
  subscribe,
} from "./wire.ts";

const PUBACK_BYTES = 4;
/** More PUBLISH packets than one socket read holds (64 KiB of 70-byte packets). */
const ACKS_PER_CHUNK_MAX = 4096;

/** Connects and subscribes; resolves once the SUBACK is in. */
export async function startSubscriber(spec: LoadSpec, flow: Flow): Promise<RawClient> {
  const client = await openClient(spec.host, spec.port, `${spec.clientIdPrefix}-sub`);
  await subscribe(client, `${spec.topicPrefix}/+`, spec.qos);
  const ackIds = new Uint16Array(ACKS_PER_CHUNK_MAX);
  let ackCount = 0;
  let receivedInChunk = 0;

  const flushAcks = (): void => {
    if (ackCount === 0) return;
    const acks = Buffer.allocUnsafe(ackCount * PUBACK_BYTES);
    for (let i = 0; i < ackCount; i++) {
      const at = i * PUBACK_BYTES;
      acks[at] = 0x40; // PUBACK, remaining length 2
      acks[at + 1] = 0x02;
      acks[at + 2] = ackIds[i] >>> 8;
      acks[at + 3] = ackIds[i] & 0xff;
    }
    ackCount = 0;
    client.socket.write(acks);
  };

  client.onPacket = (packet: Packet): void => {
    if (packet.type !== "publish") return;
    receivedInChunk++;
    if (packet.payload.length !== PAYLOAD_BYTES) {
      fail(`received a ${packet.payload.length}-byte payload, sent ${PAYLOAD_BYTES}`);
    }
    if (packet.qos === 0) return;
    if (ackCount === ACKS_PER_CHUNK_MAX) flushAcks();
    ackIds[ackCount++] = packet.packetId as number;
  };
  client.afterChunk = () => {
    flushAcks();
    const received = receivedInChunk;
    receivedInChunk = 0;
    flow.onReceived(received);
  };
  client.socket.on("close", () => {
    if (flow.running) fail("broker closed the subscriber's connection");
  });
  return client;
}
