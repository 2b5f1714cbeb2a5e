/**
 * The bytes the load generator sends, built once with our codec and patched on the hot path, and
 * the payload header that carries each message's send time.
 *
 * Payload header (payloads of at least 16 bytes): bytes 0-7 hold the send time as a
 * little-endian float64 count of microseconds since the Unix epoch, bytes 8-15 the ASCII marker
 * `rmqbench`. A subscriber measures latency only for payloads that carry the marker.
 */
import { assert } from "../errors.ts";
import {
  ConnackCodeV3,
  encode,
  encodePublish,
  PacketType,
  type ProtocolLevel,
  type QoS,
  ReasonCode,
} from "../protocol/mqtt/index.ts";
import { PAYLOAD_HEADER_BYTES } from "./limits.ts";

const MARKER = Buffer.from("rmqbench", "latin1");
const MARKER_LOW = MARKER.readUInt32LE(0);
const MARKER_HIGH = MARKER.readUInt32LE(4);
const TIMESTAMP_BYTES = 8;

/**
 * Microseconds since the Unix epoch: the wall clock read once when the thread started, advanced
 * by the monotonic clock since. Worker threads and processes on one machine agree on it to a
 * few microseconds.
 */
export function nowMicros(): number {
  return (performance.timeOrigin + performance.now()) * 1000;
}

/** A payload of `size` bytes: the marker in place (when it fits) and a letter pattern after it. */
export function benchPayload(size: number): Buffer {
  assert(Number.isInteger(size) && size >= 0, `payload size ${size}`);
  const payload = Buffer.alloc(size);
  for (let i = 0; i < size; i++) payload[i] = 0x61 + (i % 26);
  if (size >= PAYLOAD_HEADER_BYTES) {
    payload.fill(0, 0, TIMESTAMP_BYTES);
    MARKER.copy(payload, TIMESTAMP_BYTES);
  }
  return payload;
}

/** The send time written into a payload, or -1 when the payload does not carry the header. */
export function payloadTimestampMicros(payload: Buffer): number {
  if (payload.length < PAYLOAD_HEADER_BYTES) return -1;
  if (payload.readUInt32LE(8) !== MARKER_LOW || payload.readUInt32LE(12) !== MARKER_HIGH) return -1;
  return payload.readDoubleLE(0);
}

/** One publisher's PUBLISH packet, and where to patch the packet id and the send time. */
export interface PublishTemplate {
  packet: Buffer;
  /** -1 at QoS 0. */
  packetIdOffset: number;
  /** -1 when the payload is too small to carry the header. */
  timestampOffset: number;
}

export function publishTemplate(
  topic: string,
  qos: QoS,
  payloadSizeBytes: number,
  version: ProtocolLevel,
): PublishTemplate {
  const payload = benchPayload(payloadSizeBytes);
  const packet = encodePublish(
    {
      type: "publish",
      topic,
      payload,
      qos,
      retain: false,
      dup: false,
      packetId: qos > 0 ? 1 : undefined,
    },
    version,
  );
  const payloadOffset = packet.length - payloadSizeBytes;
  // Fixed header (1 byte + remaining length), then the topic with its 2-byte length.
  let position = 1;
  while ((packet[position] & 0x80) !== 0) position++;
  position++;
  const packetIdOffset = qos > 0 ? position + 2 + packet.readUInt16BE(position) : -1;
  if (packetIdOffset >= 0) assert(packet.readUInt16BE(packetIdOffset) === 1, "packet id offset");
  const timestampOffset = payloadSizeBytes >= PAYLOAD_HEADER_BYTES ? payloadOffset : -1;
  assert(payloadOffset > 0 && packet.subarray(payloadOffset).equals(payload), "payload offset");
  return { packet, packetIdOffset, timestampOffset };
}

/** The fixed-header byte of each ack the generator sends (PUBREL carries flags 0b0010). */
export const AckByte = {
  PUBACK: PacketType.PUBACK << 4,
  PUBREC: PacketType.PUBREC << 4,
  PUBREL: (PacketType.PUBREL << 4) | 0b0010,
  PUBCOMP: PacketType.PUBCOMP << 4,
} as const;

export const PINGREQ = Buffer.from([PacketType.PINGREQ << 4, 0]);
/** DISCONNECT with no reason code: normal disconnection in every protocol version. */
export const DISCONNECT = Buffer.from([PacketType.DISCONNECT << 4, 0]);

export interface ConnectFields {
  clientId: string;
  protocolVersion: ProtocolLevel;
  cleanStart: boolean;
  keepAliveSeconds: number;
  sessionExpirySeconds: number | null;
  username: string | null;
  password: string | null;
}

export function connectPacket(fields: ConnectFields): Buffer {
  const version = fields.protocolVersion;
  return encode(
    {
      type: "connect",
      protocolName: version === 3 ? "MQIsdp" : "MQTT",
      protocolVersion: version,
      cleanStart: fields.cleanStart,
      keepAlive: fields.keepAliveSeconds,
      clientId: fields.clientId,
      username: fields.username ?? undefined,
      password: fields.password === null ? undefined : Buffer.from(fields.password, "utf8"),
      properties:
        version === 5 && fields.sessionExpirySeconds !== null
          ? { sessionExpiryInterval: fields.sessionExpirySeconds }
          : undefined,
    },
    version,
  );
}

export function subscribePacket(filter: string, qos: QoS, version: ProtocolLevel): Buffer {
  return encode(
    {
      type: "subscribe",
      packetId: 1,
      subscriptions: [
        { topicFilter: filter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 },
      ],
    },
    version,
  );
}

const REASON_NAMES = new Map<number, string>();
for (const [name, code] of Object.entries(ReasonCode)) {
  // Several names share 0x00-0x02; the success meaning needs no name in an error report.
  if (!REASON_NAMES.has(code)) REASON_NAMES.set(code, name);
}
const CONNACK_V3_NAMES = new Map<number, string>(
  Object.entries(ConnackCodeV3).map(([name, code]) => [code, name]),
);

function hex(code: number): string {
  return `0x${code.toString(16).padStart(2, "0").toUpperCase()}`;
}

/** `0x87 NOT_AUTHORIZED`: a reason code as error reports show it. */
export function reasonText(code: number, version: ProtocolLevel, connack = false): string {
  const name = connack && version < 5 ? CONNACK_V3_NAMES.get(code) : REASON_NAMES.get(code);
  return name === undefined ? hex(code) : `${hex(code)} ${name}`;
}
