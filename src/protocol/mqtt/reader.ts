import { isUtf8 } from "node:buffer";
import { ErrorCode, MqttProtocolError } from "../../errors.ts";
import { ReasonCode } from "./constants.ts";

export function malformed(message: string): MqttProtocolError {
  return new MqttProtocolError(
    ErrorCode.MQTT_MALFORMED_PACKET,
    ReasonCode.MALFORMED_PACKET,
    `malformed packet: ${message}`,
  );
}

export function protocolError(message: string): MqttProtocolError {
  return new MqttProtocolError(
    ErrorCode.MQTT_PROTOCOL_ERROR,
    ReasonCode.PROTOCOL_ERROR,
    `protocol error: ${message}`,
  );
}

/**
 * Node's Buffer has native slice/write methods that skip the encoding lookup and argument
 * checks of toString()/write(); they are not in @types/node, hence this view.
 */
export type NativeBuffer = Buffer & {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
  utf8Write(value: string, offset: number): number;
};

const EMPTY = Buffer.alloc(0);

/**
 * Decodes an MQTT UTF-8 string. ASCII (the common case) is checked with a plain loop and
 * sliced as latin1, the cheapest string V8 can make; anything else goes to the native
 * validator. Throws MALFORMED on ill-formed UTF-8 or U+0000.
 */
export function decodeUtf8(buffer: Buffer, start: number, end: number, field: string): string {
  for (let index = start; index < end; index++) {
    const byte = buffer[index];
    if (byte === 0 || byte >= 0x80) return decodeNonAscii(buffer, start, end, field);
  }
  return (buffer as NativeBuffer).latin1Slice(start, end);
}

function decodeNonAscii(buffer: Buffer, start: number, end: number, field: string): string {
  const view = buffer.subarray(start, end);
  // [MQTT-1.5.4-1] well-formed UTF-8, no surrogate code points (isUtf8 rejects them).
  if (!isUtf8(view)) throw malformed(`[MQTT-1.5.4-1] ${field} is not well-formed UTF-8`);
  // [MQTT-1.5.4-2] no encoding of the null character U+0000.
  if (view.indexOf(0) !== -1) throw malformed(`[MQTT-1.5.4-2] ${field} contains U+0000`);
  return (buffer as NativeBuffer).utf8Slice(start, end);
}

/**
 * A bounds-checked cursor over one packet body. One instance lives in each parser and is
 * reset per packet, so reading allocates nothing beyond the values it returns. Every read
 * past `end` throws MALFORMED: the remaining length is the body's size and fields may not
 * overrun it.
 */
export class Reader {
  buffer: Buffer = EMPTY;
  position = 0;
  end = 0;

  reset(buffer: Buffer, start: number, end: number): void {
    this.buffer = buffer;
    this.position = start;
    this.end = end;
  }

  /** Drops the reference to the last buffer read. */
  release(): void {
    this.reset(EMPTY, 0, 0);
  }

  remaining(): number {
    return this.end - this.position;
  }

  private need(bytes: number, field: string): number {
    const start = this.position;
    if (this.end - start < bytes) throw malformed(`packet ends inside ${field}`);
    this.position = start + bytes;
    return start;
  }

  u8(field: string): number {
    return this.buffer[this.need(1, field)];
  }

  u16(field: string): number {
    const at = this.need(2, field);
    return (this.buffer[at] << 8) | this.buffer[at + 1];
  }

  u32(field: string): number {
    return this.buffer.readUInt32BE(this.need(4, field));
  }

  /** Variable Byte Integer: at most 4 bytes, minimally encoded [MQTT-1.5.5-1]. */
  varint(field: string): number {
    let value = 0;
    let multiplier = 1;
    for (let count = 0; count < 4; count++) {
      const byte = this.u8(field);
      value += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) {
        if (byte === 0 && count > 0) {
          throw malformed(`[MQTT-1.5.5-1] ${field} is not minimally encoded`);
        }
        return value;
      }
      multiplier *= 0x80;
    }
    throw malformed(`${field}: variable byte integer longer than 4 bytes`);
  }

  string(field: string): string {
    const length = this.u16(field);
    const start = this.need(length, field);
    return decodeUtf8(this.buffer, start, start + length, field);
  }

  /** Binary Data: a slice of the read buffer, never a copy. */
  binary(field: string): Buffer {
    const length = this.u16(field);
    const start = this.need(length, field);
    return this.buffer.subarray(start, start + length);
  }

  /** The packet's declared fields are all read; anything left over is malformed. */
  expectEnd(packetName: string): void {
    if (this.position !== this.end) {
      throw malformed(`${packetName} has ${this.end - this.position} bytes after its last field`);
    }
  }
}

export function unsupportedProtocolVersion(message: string): MqttProtocolError {
  return new MqttProtocolError(
    ErrorCode.MQTT_UNSUPPORTED_PROTOCOL_VERSION,
    ReasonCode.UNSUPPORTED_PROTOCOL_VERSION,
    `unsupported protocol version: ${message}`,
  );
}
