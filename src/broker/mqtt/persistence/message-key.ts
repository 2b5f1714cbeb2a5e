/**
 * The key of an application-message record in the MQTT log, format 1: how the message was
 * published, then its topic. Hand-encoded because it is written once per durable message (it
 * replaced a msgpack header, which cost more than the record around it):
 *
 *   byte 0   format (MESSAGE_KEY_FORMAT)
 *   byte 1   flags: bits 0-1 QoS, 2 retain, 3 expiry, 4 inbound packet id, 5 shares,
 *            6 properties; bit 7 is always 0
 *   u16      publisher's client id length, then the client id (UTF-8)
 *   u48      absolute expiry, ms since the epoch                      if flag 3
 *   u16      inbound QoS 2 packet id                                  if flag 4
 *   u16      share count, then per share: u16 length + client id,
 *            u16 length + filter                                      if flag 5
 *   u32      length, then the forwarded v5 properties (msgpack)       if flag 6
 *   rest     the topic (UTF-8)
 *
 * Integers are big-endian. Properties stay msgpack: they are rare and of open shape, and the
 * hot path (none) never touches it. Decoding checks every length against the key and rejects
 * anything inconsistent with STORAGE_CORRUPT rather than guessing.
 */
import { pack, unpack } from "msgpackr";
import { assert, ErrorCode, RobustMQError } from "../../../errors.ts";
import type { QoS } from "../../../protocol/mqtt/constants.ts";
import type { Properties } from "../../../protocol/mqtt/packets.ts";
import type { MessageMeta } from "./records.ts";

export const MESSAGE_KEY_FORMAT = 1;

const FLAG_RETAIN = 1 << 2;
const FLAG_EXPIRY = 1 << 3;
const FLAG_INBOUND_ID = 1 << 4;
const FLAG_SHARES = 1 << 5;
const FLAG_PROPERTIES = 1 << 6;
const FLAG_NOT_RETAINED = 1 << 7;
const FLAGS_KNOWN = 0xff;
const EXPIRY_BYTES = 6;
const EXPIRY_MS_MAX = 2 ** 48 - 1;
const STRING_BYTES_MAX = 0xffff;
const SHARES_MAX = 0xffff;

/** Encodes meta and topic into one key buffer. */
export function encodeMessageKey(topic: string, meta: MessageMeta): Buffer {
  assert(meta.q >= 0 && meta.q <= 2, "QoS 0-2");
  assert(Number.isInteger(meta.x) && meta.x >= 0 && meta.x <= EXPIRY_MS_MAX, "expiry fits u48");
  const properties = meta.p === undefined ? null : pack(meta.p);
  const shares = meta.s ?? null;
  const inboundId = meta.i ?? 0;
  let flags = meta.q | (meta.r ? FLAG_RETAIN : 0) | (meta.n === true ? FLAG_NOT_RETAINED : 0);
  const originBytes = Buffer.byteLength(meta.o);
  assert(originBytes <= STRING_BYTES_MAX, "client id fits u16");
  let size = 2 + 2 + originBytes + Buffer.byteLength(topic);
  if (meta.x !== 0) {
    flags |= FLAG_EXPIRY;
    size += EXPIRY_BYTES;
  }
  if (inboundId !== 0) {
    assert(inboundId > 0 && inboundId <= 0xffff, "packet id fits u16");
    flags |= FLAG_INBOUND_ID;
    size += 2;
  }
  if (shares !== null) {
    assert(shares.length <= SHARES_MAX, "share count fits u16");
    flags |= FLAG_SHARES;
    size += 2;
    for (const [clientId, filter] of shares) {
      size += 4 + Buffer.byteLength(clientId) + Buffer.byteLength(filter);
    }
  }
  if (properties !== null) {
    flags |= FLAG_PROPERTIES;
    size += 4 + properties.length;
  }
  const key = Buffer.allocUnsafe(size);
  key[0] = MESSAGE_KEY_FORMAT;
  key[1] = flags;
  let at = writeString(key, 2, meta.o);
  if (meta.x !== 0) at = key.writeUIntBE(meta.x, at, EXPIRY_BYTES);
  if (inboundId !== 0) at = key.writeUInt16BE(inboundId, at);
  if (shares !== null) {
    at = key.writeUInt16BE(shares.length, at);
    for (const [clientId, filter] of shares) {
      at = writeString(key, at, clientId);
      at = writeString(key, at, filter);
    }
  }
  if (properties !== null) {
    at = key.writeUInt32BE(properties.length, at);
    at += properties.copy(key, at);
  }
  at += key.write(topic, at, "utf8");
  assert(at === size, "message key size as computed");
  return key;
}

function writeString(key: Buffer, at: number, value: string): number {
  const length = key.write(value, at + 2, "utf8");
  assert(length <= STRING_BYTES_MAX, "string fits u16");
  key.writeUInt16BE(length, at);
  return at + 2 + length;
}

export interface DecodedMessageKey {
  topic: string;
  meta: MessageMeta;
}

/** Whether `key` claims to be a format-1 message key (decodeMessageKey then checks it). */
export function isMessageKey(key: Buffer): boolean {
  return key.length >= 2 && key[0] === MESSAGE_KEY_FORMAT;
}

/** Decodes a key written by encodeMessageKey; throws STORAGE_CORRUPT if it is not one. */
export function decodeMessageKey(key: Buffer): DecodedMessageKey {
  const reader = new KeyReader(key);
  if (reader.u8() !== MESSAGE_KEY_FORMAT) throw corrupt("unknown message key format");
  const flags = reader.u8();
  const qos = flags & 3;
  if (qos === 3 || (flags & ~FLAGS_KNOWN) !== 0) throw corrupt(`flags 0x${flags.toString(16)}`);
  const meta: MessageMeta = {
    q: qos as QoS,
    r: (flags & FLAG_RETAIN) !== 0,
    x: 0,
    o: reader.string(),
  };
  if ((flags & FLAG_NOT_RETAINED) !== 0) meta.n = true;
  if ((flags & FLAG_EXPIRY) !== 0) meta.x = reader.u48();
  if ((flags & FLAG_INBOUND_ID) !== 0) {
    meta.i = reader.u16();
    if (meta.i === 0) throw corrupt("packet id 0");
  }
  if ((flags & FLAG_SHARES) !== 0) {
    const count = reader.u16();
    const shares: Array<[string, string]> = [];
    for (let i = 0; i < count; i++) shares.push([reader.string(), reader.string()]);
    meta.s = shares;
  }
  if ((flags & FLAG_PROPERTIES) !== 0) meta.p = reader.properties();
  return { topic: reader.rest(), meta };
}

function corrupt(what: string): RobustMQError {
  return new RobustMQError(ErrorCode.STORAGE_CORRUPT, `MQTT message record: ${what}`);
}

/** Bounds-checked reads over one key. */
class KeyReader {
  readonly #key: Buffer;
  #at = 0;

  constructor(key: Buffer) {
    this.#key = key;
  }

  #take(bytes: number): number {
    const at = this.#at;
    if (at + bytes > this.#key.length) throw corrupt("key cut short");
    this.#at = at + bytes;
    return at;
  }

  u8(): number {
    return this.#key[this.#take(1)];
  }

  u16(): number {
    return this.#key.readUInt16BE(this.#take(2));
  }

  u48(): number {
    return this.#key.readUIntBE(this.#take(EXPIRY_BYTES), EXPIRY_BYTES);
  }

  string(): string {
    const length = this.u16();
    const at = this.#take(length);
    return this.#key.toString("utf8", at, at + length);
  }

  properties(): Properties {
    const length = this.#key.readUInt32BE(this.#take(4));
    const at = this.#take(length);
    let value: unknown;
    try {
      value = unpack(this.#key.subarray(at, at + length));
    } catch {
      throw corrupt("properties do not decode");
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw corrupt("properties are not a map");
    }
    return value as Properties;
  }

  rest(): string {
    const at = this.#at;
    this.#at = this.#key.length;
    return this.#key.toString("utf8", at);
  }
}
