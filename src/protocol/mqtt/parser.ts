import { assert, ErrorCode, MqttProtocolError } from "../../errors.ts";
import { PacketType, type ProtocolLevel, ReasonCode } from "./constants.ts";
import {
  decodeAck,
  decodeAuth,
  decodeConnack,
  decodeConnect,
  decodeDisconnect,
  decodePublish,
  decodeSuback,
  decodeSubscribe,
  decodeUnsuback,
  decodeUnsubscribe,
} from "./decode.ts";
import type { Packet } from "./packets.ts";
import { malformed, Reader } from "./reader.ts";
import { varintLength, writeVarint } from "./varint.ts";

/** Fixed header: 1 type/flags byte + a remaining length of at most 4 bytes. */
const FIXED_HEADER_BYTES_MAX = 5;

/** Receives the parsed packets; an object (a connection) rather than a closure per parser. */
export interface PacketSink {
  onPacket(packet: Packet): void;
}

/**
 * One reader for every parser: a packet is decoded completely before it is handed on, and
 * decoding cannot re-enter, so no two parsers ever use it at once.
 */
const sharedReader = new Reader();

const PACKET_NAMES = [
  "reserved",
  "CONNECT",
  "CONNACK",
  "PUBLISH",
  "PUBACK",
  "PUBREC",
  "PUBREL",
  "PUBCOMP",
  "SUBSCRIBE",
  "SUBACK",
  "UNSUBSCRIBE",
  "UNSUBACK",
  "PINGREQ",
  "PINGRESP",
  "DISCONNECT",
  "AUTH",
] as const;

/**
 * Incremental MQTT parser for one connection. push() parses every complete packet in a
 * chunk in one pass, calling onPacket for each; only a trailing partial packet is copied,
 * into a buffer of exactly its size (known from the fixed header and checked against the
 * maximum packet size first, so memory stays bounded). After the first error the parser is
 * dead: push() keeps returning that error.
 */
export class MqttParser {
  /** Level used for every packet but CONNECT; set from each CONNECT parsed, or by the broker. */
  protocolVersion: ProtocolLevel = 4;
  private readonly sink: PacketSink;
  private readonly maxPacketSizeBytes: number;
  private error: MqttProtocolError | null = null;
  private stopped = false;
  /** Set by pause(): parsing stops after the current packet and the rest waits in `held`. */
  private paused = false;
  private held: Buffer | null = null;
  // A fixed header cut off at the end of a chunk, in integers rather than a 5-byte Buffer
  // per parser (about 200 bytes of heap each): its bytes so far (0 = none), its first byte,
  // and the remaining length decoded so far with the multiplier of its next byte.
  private headerFilled = 0;
  private headerFirst = 0;
  private headerLength = 0;
  private headerMultiplier = 1;
  /** A packet whose body spans chunks, and how much of it has arrived. */
  private partial: Buffer | null = null;
  private partialFilled = 0;
  private partialHeaderLength = 0;

  constructor(onPacket: PacketSink | ((packet: Packet) => void), maxPacketSizeBytes: number) {
    assert(
      typeof onPacket === "function" || typeof onPacket?.onPacket === "function",
      "onPacket must be a function or a PacketSink",
    );
    assert(
      Number.isInteger(maxPacketSizeBytes) && maxPacketSizeBytes >= 2,
      `maxPacketSizeBytes ${maxPacketSizeBytes}`,
    );
    this.sink = typeof onPacket === "function" ? { onPacket } : onPacket;
    this.maxPacketSizeBytes = maxPacketSizeBytes;
  }

  /**
   * Parses what `chunk` completes; returns the first error (and from then on, always it).
   * Never throws for any input. An MqttProtocolError thrown by onPacket counts as the
   * parser's error too; any other exception from onPacket propagates.
   */
  push(chunk: Buffer): MqttProtocolError | null {
    if (this.error !== null) return this.error;
    if (this.stopped) return null;
    if (this.paused) {
      this.hold(chunk);
      return null;
    }
    try {
      this.consume(chunk);
      return null;
    } catch (error) {
      // Anything else is a bug in this codec or an exception from onPacket: let it crash.
      if (!(error instanceof MqttProtocolError)) throw error;
      this.error = error;
      this.partial = null;
      this.headerFilled = 0;
      return error;
    } finally {
      // An idle connection must not pin its last socket chunk.
      sharedReader.release();
    }
  }

  /**
   * Stops parsing after the packet being delivered, keeping the unparsed bytes (and any later
   * push) until resume(). The broker uses this to apply backpressure within a chunk.
   */
  pause(): void {
    this.paused = true;
  }

  /** Parses what was held while paused; returns an error like push(). */
  resume(): MqttProtocolError | null {
    if (!this.paused) return this.error;
    this.paused = false;
    const held = this.held;
    this.held = null;
    return held === null ? this.error : this.push(held);
  }

  private hold(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.held = this.held === null ? chunk : Buffer.concat([this.held, chunk]);
  }

  /** Stops after the packet being delivered; later pushes do nothing. */
  stop(): void {
    this.stopped = true;
    this.held = null;
    this.partial = null;
    this.headerFilled = 0;
  }

  private consume(chunk: Buffer): void {
    let offset = 0;
    if (this.headerFilled > 0) {
      offset = this.completeHeader(chunk);
      if (offset < 0) return;
    }
    if (this.partial !== null) {
      offset = this.completePartial(chunk, offset);
      if (offset < 0) return;
    }
    const end = chunk.length;
    while (offset < end && !this.stopped && !this.paused) {
      offset = this.parseAt(chunk, offset, end);
    }
    if (this.paused && !this.stopped && offset < end) this.hold(chunk.subarray(offset));
  }

  /** Parses the packet starting at `offset`, or carries it over; returns where the next starts. */
  private parseAt(chunk: Buffer, offset: number, end: number): number {
    const first = chunk[offset];
    this.checkFirstByte(first);
    const remainingLength = decodeRemainingLength(chunk, offset + 1, end);
    if (remainingLength < 0) {
      // Every length byte present has its continuation bit set (checked by the decoder).
      this.headerFirst = first;
      this.headerFilled = 1;
      this.headerLength = 0;
      this.headerMultiplier = 1;
      for (let index = offset + 1; index < end; index++) this.addLengthByte(chunk[index]);
      return end;
    }
    const headerLength = 1 + varintLength(remainingLength);
    const total = headerLength + remainingLength;
    this.checkSize(total);
    if (end - offset < total) {
      const partial = Buffer.allocUnsafe(total);
      chunk.copy(partial, 0, offset, end);
      this.startPartial(partial, end - offset, headerLength);
      return end;
    }
    this.decode(chunk, first, offset + headerLength, offset + total);
    return offset + total;
  }

  /** Feeds header bytes until the remaining length is known; -1 if the chunk ran out first. */
  private completeHeader(chunk: Buffer): number {
    assert(this.headerFilled > 0 && this.headerFilled < FIXED_HEADER_BYTES_MAX, "header state");
    let offset = 0;
    while (offset < chunk.length) {
      const byte = chunk[offset++];
      const multiplier = this.headerMultiplier;
      this.addLengthByte(byte);
      if ((byte & 0x80) !== 0) {
        if (this.headerFilled === FIXED_HEADER_BYTES_MAX) {
          throw malformed("remaining length longer than 4 bytes");
        }
        continue;
      }
      if (byte === 0 && multiplier > 1) {
        throw malformed("[MQTT-1.5.5-1] remaining length is not minimally encoded");
      }
      const headerLength = this.headerFilled;
      const remainingLength = this.headerLength;
      const total = headerLength + remainingLength;
      this.checkSize(total);
      const partial = Buffer.allocUnsafe(total);
      // The header is written back from its value: it was minimally encoded, so these are
      // the bytes that arrived.
      partial[0] = this.headerFirst;
      writeVarint(partial, 1, remainingLength);
      this.headerFilled = 0;
      this.startPartial(partial, headerLength, headerLength);
      return offset;
    }
    return -1;
  }

  /** One more byte of a cut-off remaining length. */
  private addLengthByte(byte: number): void {
    this.headerLength += (byte & 0x7f) * this.headerMultiplier;
    this.headerMultiplier *= 0x80;
    this.headerFilled++;
  }

  private startPartial(partial: Buffer, filled: number, headerLength: number): void {
    assert(filled < partial.length || filled === headerLength, "partial packet already whole");
    this.partial = partial;
    this.partialFilled = filled;
    this.partialHeaderLength = headerLength;
  }

  /** Fills the carried packet from `chunk`; returns the offset after it, or -1 if still short. */
  private completePartial(chunk: Buffer, offset: number): number {
    const partial = this.partial;
    assert(partial !== null, "no partial packet");
    const missing = partial.length - this.partialFilled;
    const available = chunk.length - offset;
    if (available < missing) {
      chunk.copy(partial, this.partialFilled, offset);
      this.partialFilled += available;
      return -1;
    }
    chunk.copy(partial, this.partialFilled, offset, offset + missing);
    this.partial = null;
    this.decode(partial, partial[0], this.partialHeaderLength, partial.length);
    return offset + missing;
  }

  /** Type and flag rules that need only the first byte, so garbage fails fast. */
  private checkFirstByte(first: number): void {
    const type = first >>> 4;
    const flags = first & 0x0f;
    if (type === PacketType.PUBLISH) {
      const qos = (flags >>> 1) & 3;
      if (qos === 3) throw malformed("[MQTT-3.3.1-4] PUBLISH with QoS 3");
      if (qos === 0 && (flags & 0x08) !== 0) {
        throw malformed("[MQTT-3.3.1-2] PUBLISH with DUP set and QoS 0");
      }
      return;
    }
    if (type === 0) throw malformed("packet type 0 is reserved");
    if (type === PacketType.AUTH && this.protocolVersion !== 5) {
      throw malformed("packet type 15 (AUTH) is reserved before MQTT 5");
    }
    const expected =
      type === PacketType.PUBREL || type === PacketType.SUBSCRIBE || type === PacketType.UNSUBSCRIBE
        ? 0b0010
        : 0b0000;
    if (flags !== expected) {
      throw malformed(
        `[MQTT-2.1.3-1] ${PACKET_NAMES[type]} fixed header flags 0b${flags.toString(2).padStart(4, "0")}`,
      );
    }
  }

  private checkSize(totalBytes: number): void {
    if (totalBytes > this.maxPacketSizeBytes) {
      throw new MqttProtocolError(
        ErrorCode.MQTT_PACKET_TOO_LARGE,
        ReasonCode.PACKET_TOO_LARGE,
        `packet of ${totalBytes} bytes exceeds the maximum packet size of ${this.maxPacketSizeBytes}`,
      );
    }
  }

  private decode(buffer: Buffer, first: number, start: number, end: number): void {
    const reader = sharedReader;
    reader.reset(buffer, start, end);
    const version = this.protocolVersion;
    let packet: Packet;
    switch (first >>> 4) {
      case PacketType.PUBLISH:
        packet = decodePublish(reader, first, version);
        break;
      case PacketType.PUBACK:
        packet = decodeAck(reader, "puback", version);
        break;
      case PacketType.PUBREC:
        packet = decodeAck(reader, "pubrec", version);
        break;
      case PacketType.PUBREL:
        packet = decodeAck(reader, "pubrel", version);
        break;
      case PacketType.PUBCOMP:
        packet = decodeAck(reader, "pubcomp", version);
        break;
      case PacketType.CONNECT: {
        // Known before the rest is decoded, so a malformed v5 CONNECT can still get a CONNACK.
        this.protocolVersion = peekConnectLevel(buffer, start, end) ?? this.protocolVersion;
        const connect = decodeConnect(reader);
        this.protocolVersion = connect.protocolVersion;
        packet = connect;
        break;
      }
      case PacketType.CONNACK:
        packet = decodeConnack(reader, version);
        break;
      case PacketType.SUBSCRIBE:
        packet = decodeSubscribe(reader, version);
        break;
      case PacketType.SUBACK:
        packet = decodeSuback(reader, version);
        break;
      case PacketType.UNSUBSCRIBE:
        packet = decodeUnsubscribe(reader, version);
        break;
      case PacketType.UNSUBACK:
        packet = decodeUnsuback(reader, version);
        break;
      case PacketType.PINGREQ:
        reader.expectEnd("PINGREQ");
        packet = { type: "pingreq" };
        break;
      case PacketType.PINGRESP:
        reader.expectEnd("PINGRESP");
        packet = { type: "pingresp" };
        break;
      case PacketType.DISCONNECT:
        packet = decodeDisconnect(reader, version);
        break;
      default:
        assert(first >>> 4 === PacketType.AUTH, "packet type checked in checkFirstByte");
        packet = decodeAuth(reader);
    }
    this.sink.onPacket(packet);
  }
}

/**
 * Decodes the remaining length that starts at `start`; -1 when the buffer ends before it
 * does. At most 4 bytes (section 1.5.5), minimally encoded [MQTT-1.5.5-1], so its size on
 * the wire is varintLength(value).
 */
function decodeRemainingLength(buffer: Buffer, start: number, end: number): number {
  let value = 0;
  let multiplier = 1;
  for (let index = start; index < start + 4; index++) {
    if (index >= end) return -1;
    const byte = buffer[index];
    value += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) {
      if (byte === 0 && index > start) {
        throw malformed("[MQTT-1.5.5-1] remaining length is not minimally encoded");
      }
      return value;
    }
    multiplier *= 0x80;
  }
  throw malformed("remaining length longer than 4 bytes");
}

/** The protocol level of a CONNECT body whose name is "MQTT" (level 4 or 5), if readable. */
function peekConnectLevel(buffer: Buffer, start: number, end: number): ProtocolLevel | undefined {
  if (end - start < 7 || buffer.readUInt16BE(start) !== 4) return undefined;
  if (buffer.toString("latin1", start + 2, start + 6) !== "MQTT") return undefined;
  const level = buffer[start + 6];
  return level === 4 || level === 5 ? level : undefined;
}
