/**
 * The sending end of a workload: connection i publishes 64-byte messages to
 * `${topicPrefix}/${i}` from pre-encoded bytes.
 *
 * - QoS 0: batches of identical packets, written while the socket takes them (resumed on
 *   'drain') and while the end-to-end limit allows (resumed when the subscriber catches up).
 *   Kernel buffers on loopback hold megabytes per socket, so TCP alone would let 100
 *   publishers park hundreds of megabytes in front of the broker.
 * - QoS 1: a window of `windowCount` unacknowledged PUBLISH packets per connection; each PUBACK
 *   lets one more out (the refills of one socket read go out in one write). No end-to-end
 *   limit: a broker that acknowledges faster than it delivers shows it as received < acked.
 */
import type { Packet } from "../../src/protocol/mqtt/index.ts";
import {
  type Flow,
  fail,
  type LoadSpec,
  openClient,
  packetIdOffset,
  publishTemplate,
  type RawClient,
} from "./wire.ts";

/** QoS 0: packets per write; smaller with many publishers so they share the limit. */
const QOS0_BATCH_COUNT_MAX = 256;
const QOS0_BATCH_COUNT_MIN = 8;
/** QoS 0: writes per event-loop turn, so the subscriber and IPC are never starved. */
const QOS0_WRITES_PER_TURN_MAX = 16;
const PACKET_ID_MAX = 0xffff;

export async function connectPublishers(spec: LoadSpec, flow: Flow): Promise<RawClient[]> {
  if (spec.qos === 1 && !(spec.windowCount >= 1 && spec.windowCount < PACKET_ID_MAX)) {
    throw new Error(`window ${spec.windowCount} outside 1..${PACKET_ID_MAX - 1}`);
  }
  const clients: RawClient[] = [];
  for (let i = 0; i < spec.publisherCount; i++) {
    const client = await openClient(spec.host, spec.port, `${spec.clientIdPrefix}-pub-${i}`);
    client.socket.on("close", () => {
      if (flow.running) fail("broker closed a publisher's connection");
    });
    clients.push(client);
  }
  return clients;
}

export function startPublishers(spec: LoadSpec, flow: Flow, clients: RawClient[]): void {
  const batchCount = Math.max(
    QOS0_BATCH_COUNT_MIN,
    Math.min(QOS0_BATCH_COUNT_MAX, Math.floor(spec.inFlightMax / (4 * clients.length))),
  );
  for (let i = 0; i < clients.length; i++) {
    const template = publishTemplate(`${spec.topicPrefix}/${i}`, spec.qos);
    if (spec.qos === 0) startQos0(flow, clients[i], template, batchCount);
    else startQos1(flow, clients[i], template, spec.windowCount);
  }
}

function startQos0(flow: Flow, client: RawClient, template: Buffer, batchCount: number): void {
  const batch = Buffer.allocUnsafe(template.length * batchCount);
  for (let i = 0; i < batchCount; i++) template.copy(batch, i * template.length);
  const socket = client.socket;
  const pump = (): void => {
    for (let writes = 0; writes < QOS0_WRITES_PER_TURN_MAX; writes++) {
      if (!flow.running || socket.destroyed) return;
      if (!flow.admits(batchCount)) {
        flow.park(pump);
        return;
      }
      flow.sentCount += batchCount;
      if (!socket.write(batch)) {
        socket.once("drain", pump);
        return;
      }
    }
    setImmediate(pump);
  };
  pump();
}

function startQos1(flow: Flow, client: RawClient, template: Buffer, windowCount: number): void {
  const idOffset = packetIdOffset(template);
  const inFlight = new Uint8Array(PACKET_ID_MAX + 1);
  let inFlightCount = 0;
  let nextId = 1;
  const send = (count: number): void => {
    if (count === 0 || !flow.running || client.socket.destroyed) return;
    const packets = Buffer.allocUnsafe(template.length * count);
    for (let i = 0; i < count; i++) {
      while (inFlight[nextId] === 1) nextId = nextId === PACKET_ID_MAX ? 1 : nextId + 1;
      const at = i * template.length;
      template.copy(packets, at);
      packets[at + idOffset] = nextId >>> 8;
      packets[at + idOffset + 1] = nextId & 0xff;
      inFlight[nextId] = 1;
      nextId = nextId === PACKET_ID_MAX ? 1 : nextId + 1;
    }
    inFlightCount += count;
    flow.sentCount += count;
    client.socket.write(packets);
  };
  client.onPacket = (packet: Packet): void => {
    if (packet.type !== "puback") return;
    if (inFlight[packet.packetId] !== 1) fail(`PUBACK for unknown packet id ${packet.packetId}`);
    inFlight[packet.packetId] = 0;
    inFlightCount--;
    flow.ackedCount++;
  };
  client.afterChunk = () => send(windowCount - inFlightCount);
  send(windowCount);
}
