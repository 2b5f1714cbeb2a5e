/** Byte builders and parse helpers shared by the codec tests. */
import assert from "node:assert/strict";
import { ErrorCode, MqttProtocolError } from "../../../../src/errors.ts";
import type { ProtocolLevel } from "../../../../src/protocol/mqtt/constants.ts";
import type { Packet } from "../../../../src/protocol/mqtt/packets.ts";
import { MqttParser } from "../../../../src/protocol/mqtt/parser.ts";

export type Bytes = number | readonly number[] | Buffer;

export function flatten(parts: readonly Bytes[]): number[] {
  const out: number[] = [];
  for (const part of parts) {
    if (typeof part === "number") out.push(part);
    else out.push(...part);
  }
  return out;
}

export function u16(value: number): number[] {
  return [value >> 8, value & 0xff];
}

export function u32(value: number): number[] {
  return [(value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
}

export function varint(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return out;
}

/** An MQTT string: 2-byte length then the bytes (a string is UTF-8 encoded). */
export function str(value: string | readonly number[]): number[] {
  const bytes = typeof value === "string" ? [...Buffer.from(value, "utf8")] : [...value];
  return [...u16(bytes.length), ...bytes];
}

/** A property list: Property Length then the given property bytes. */
export function props(...parts: Bytes[]): number[] {
  const body = flatten(parts);
  return [...varint(body.length), ...body];
}

/** A whole packet: first byte, remaining length computed from the body. */
export function frame(first: number, ...body: Bytes[]): Buffer {
  const bytes = flatten(body);
  return Buffer.from([first, ...varint(bytes.length), ...bytes]);
}

export interface ParseResult {
  packets: Packet[];
  error: MqttProtocolError | null;
  parser: MqttParser;
}

/** Feeds the chunks to a fresh parser, failing the test if push() ever throws. */
export function parseChunks(
  chunks: readonly Buffer[],
  version: ProtocolLevel = 4,
  maxPacketSizeBytes = 1 << 20,
): ParseResult {
  const packets: Packet[] = [];
  const parser = new MqttParser((packet) => packets.push(packet), maxPacketSizeBytes);
  parser.protocolVersion = version;
  let error: MqttProtocolError | null = null;
  for (const chunk of chunks) {
    let result: MqttProtocolError | null;
    try {
      result = parser.push(chunk);
    } catch (thrown) {
      assert.fail(`push() threw instead of returning an error: ${String(thrown)}`);
    }
    if (result !== null) {
      error = result;
      break;
    }
  }
  return { packets, error, parser };
}

export function parseOne(bytes: Buffer, version: ProtocolLevel = 4): Packet {
  const { packets, error } = parseChunks([bytes], version);
  assert.equal(error, null, error?.message);
  assert.equal(packets.length, 1);
  return packets[0];
}

const CODE_BY_REASON: Record<number, string> = {
  129: ErrorCode.MQTT_MALFORMED_PACKET,
  130: ErrorCode.MQTT_PROTOCOL_ERROR,
  132: ErrorCode.MQTT_UNSUPPORTED_PROTOCOL_VERSION,
  149: ErrorCode.MQTT_PACKET_TOO_LARGE,
};

/**
 * Asserts the bytes make push() return (not throw) an error with this reason code and the
 * matching stable error code, that no packet was delivered, and that the parser stays dead.
 */
export function expectError(
  bytes: Buffer,
  version: ProtocolLevel,
  reasonCode: number,
  message?: RegExp,
): MqttProtocolError {
  const { packets, error, parser } = parseChunks([bytes], version);
  assert.ok(error instanceof MqttProtocolError, "expected an MqttProtocolError");
  assert.equal(
    error.reasonCode,
    reasonCode,
    `reason 0x${error.reasonCode.toString(16)}: ${error.message}`,
  );
  assert.equal(error.code, CODE_BY_REASON[reasonCode]);
  if (message !== undefined) assert.match(error.message, message);
  assert.deepEqual(packets, []);
  assert.equal(parser.push(Buffer.from([0xc0, 0])), error, "a dead parser repeats its error");
  return error;
}
