/**
 * MQTT 5 property lists: decoding (with the spec's allowed-per-packet, duplicate and range
 * rules) and encoding (length first, then writing), plus the string/binary writers the
 * encoder shares.
 */
import { assert } from "../../errors.ts";
import { PropertyId, VARINT_MAX } from "./constants.ts";
import type { Properties } from "./packets.ts";
import {
  CONTEXT_NAMES,
  DEFINITION_BY_ID,
  Kind,
  PROPERTY_DEFINITIONS,
  PropertyContext,
  type PropertyContextBit,
  type PropertyDefinition,
} from "./property-table.ts";
import { malformed, type NativeBuffer, protocolError, type Reader } from "./reader.ts";
import { varintLength, writeVarint } from "./varint.ts";

export { PropertyContext, type PropertyContextBit } from "./property-table.ts";

/** The flat Properties shape, indexed by key; only this file touches it this way. */
type PropertyBag = Record<string, number | string | Buffer | number[] | Array<[string, string]>>;

/**
 * Reads a Property Length and the properties it covers. Returns undefined when the length
 * is 0, so property-less packets (the hot path) allocate nothing.
 */
export function decodeProperties(
  reader: Reader,
  context: PropertyContextBit,
): Properties | undefined {
  const length = reader.varint("property length");
  if (length === 0) return undefined;
  if (length > reader.remaining()) throw malformed("property length runs past the packet");
  const packetEnd = reader.end;
  reader.end = reader.position + length;
  const properties: Properties = {};
  let seenLow = 0; // identifiers 0-31
  let seenHigh = 0; // identifiers 32-63
  while (reader.position < reader.end) {
    const id = reader.u8("property identifier");
    const definition = DEFINITION_BY_ID[id];
    // Section 2.2.2.2: an identifier not valid for the packet type is a Malformed Packet.
    if (definition === undefined || (definition.contexts & context) === 0) {
      throw malformed(`property 0x${id.toString(16)} is not allowed in ${CONTEXT_NAMES[context]}`);
    }
    const bit = 1 << (id & 31);
    const seen = id < 32 ? seenLow : seenHigh;
    if ((seen & bit) !== 0 && !mayRepeat(id, context)) {
      throw protocolError(`${definition.name} appears more than once in ${CONTEXT_NAMES[context]}`);
    }
    if (id < 32) seenLow |= bit;
    else seenHigh |= bit;
    readValue(reader, definition, properties as PropertyBag);
  }
  reader.end = packetEnd;
  checkAuthentication(properties);
  return properties;
}

/** User properties may repeat anywhere; subscription identifiers only in PUBLISH. */
function mayRepeat(id: number, context: PropertyContextBit): boolean {
  if (id === PropertyId.USER_PROPERTY) return true;
  return id === PropertyId.SUBSCRIPTION_IDENTIFIER && context === PropertyContext.PUBLISH;
}

function readValue(reader: Reader, definition: PropertyDefinition, bag: PropertyBag): void {
  const { key, name } = definition;
  switch (definition.kind) {
    case Kind.FLAG: {
      const value = reader.u8(name);
      if (value > 1) throw protocolError(`${name} must be 0 or 1, got ${value}`);
      bag[key] = value;
      return;
    }
    case Kind.UINT16:
    case Kind.UINT32:
    case Kind.VARINT: {
      const kind = definition.kind;
      const value =
        kind === Kind.UINT16
          ? reader.u16(name)
          : kind === Kind.UINT32
            ? reader.u32(name)
            : reader.varint(name);
      if (value === 0 && definition.zeroForbidden) throw protocolError(`${name} of 0`);
      if (kind === Kind.VARINT) appendTo(bag, key, value);
      else bag[key] = value;
      return;
    }
    case Kind.STRING:
      bag[key] = reader.string(name);
      return;
    case Kind.BINARY:
      bag[key] = reader.binary(name);
      return;
    case Kind.PAIR: {
      const pairName = reader.string(`${name} name`);
      const pairValue = reader.string(`${name} value`);
      const pairs = bag[key] as Array<[string, string]> | undefined;
      if (pairs === undefined) bag[key] = [[pairName, pairValue]];
      else pairs.push([pairName, pairValue]);
      return;
    }
  }
}

function appendTo(bag: PropertyBag, key: string, value: number): void {
  const list = bag[key] as number[] | undefined;
  if (list === undefined) bag[key] = [value];
  else list.push(value);
}

function checkAuthentication(properties: Properties): void {
  // Sections 3.1.2.11.10, 3.2.2.3.18, 3.15.2.2.3: data without a method is a protocol error.
  if (
    properties.authenticationData !== undefined &&
    properties.authenticationMethod === undefined
  ) {
    throw protocolError("Authentication Data without an Authentication Method");
  }
}

/**
 * Bytes the property list takes, excluding its Property Length prefix. Asserts that every
 * property is allowed in `context` and in range: encoding an invalid packet is a bug.
 */
export function encodedPropertiesLength(
  properties: Properties | undefined,
  context: PropertyContextBit,
): number {
  if (properties === undefined) return 0;
  const bag = properties as PropertyBag;
  let length = 0;
  for (const definition of PROPERTY_DEFINITIONS) {
    const value = bag[definition.key];
    if (value === undefined) continue;
    assert(
      (definition.contexts & context) !== 0,
      `${definition.name} not allowed in ${CONTEXT_NAMES[context]}`,
    );
    length += valueLength(definition, value, context);
  }
  assert(
    properties.authenticationData === undefined || properties.authenticationMethod !== undefined,
    "Authentication Data without an Authentication Method",
  );
  return length;
}

/** Encoded size of one property (identifier byte included; repeated ones summed). */
function valueLength(
  definition: PropertyDefinition,
  value: PropertyBag[string],
  context: PropertyContextBit,
): number {
  switch (definition.kind) {
    case Kind.FLAG:
      assert(value === 0 || value === 1, `${definition.name} must be 0 or 1`);
      return 2;
    case Kind.UINT16:
    case Kind.UINT32: {
      const max = definition.kind === Kind.UINT16 ? 0xffff : 0xffff_ffff;
      assert(typeof value === "number" && Number.isInteger(value), definition.name);
      assert(
        value >= (definition.zeroForbidden ? 1 : 0) && value <= max,
        `${definition.name} ${value}`,
      );
      return definition.kind === Kind.UINT16 ? 3 : 5;
    }
    case Kind.VARINT:
      return subscriptionIdentifiersLength(value as number[], context);
    case Kind.STRING:
      return 1 + stringLength(value as string);
    case Kind.BINARY:
      assert(Buffer.isBuffer(value) && value.length <= 0xffff, definition.name);
      return 3 + value.length;
    case Kind.PAIR: {
      let length = 0;
      for (const [name, pairValue] of value as Array<[string, string]>) {
        length += 1 + stringLength(name) + stringLength(pairValue);
      }
      return length;
    }
  }
}

function subscriptionIdentifiersLength(identifiers: number[], context: PropertyContextBit): number {
  assert(Array.isArray(identifiers), "Subscription Identifier list");
  assert(
    identifiers.length === 1 || context === PropertyContext.PUBLISH,
    "one Subscription Identifier",
  );
  let length = 0;
  for (const identifier of identifiers) {
    assert(identifier >= 1 && identifier <= VARINT_MAX, `Subscription Identifier ${identifier}`);
    length += 1 + varintLength(identifier);
  }
  return length;
}

/** Encoded size of an MQTT string (2-byte length prefix included). */
export function stringLength(value: string): number {
  assert(typeof value === "string", "string expected");
  // [MQTT-1.5.4-1] [MQTT-1.5.4-2] the peer would reject a lone surrogate (which would
  // silently become U+FFFD) or U+0000, so sending one is a bug here.
  assert(value.isWellFormed() && value.indexOf("\0") === -1, "string with U+0000 or a surrogate");
  const length = Buffer.byteLength(value);
  assert(length <= 0xffff, `string of ${length} bytes exceeds 65535`);
  return 2 + length;
}

/** Writes an MQTT string (length prefix + UTF-8); returns the offset after it. */
export function writeString(buffer: Buffer, offset: number, value: string): number {
  const written = (buffer as NativeBuffer).utf8Write(value, offset + 2);
  buffer[offset] = written >>> 8;
  buffer[offset + 1] = written & 0xff;
  return offset + 2 + written;
}

export function writeBinary(buffer: Buffer, offset: number, value: Buffer): number {
  buffer[offset] = value.length >>> 8;
  buffer[offset + 1] = value.length & 0xff;
  value.copy(buffer, offset + 2);
  return offset + 2 + value.length;
}

/**
 * Writes the Property Length (`length`, from encodedPropertiesLength) then the properties;
 * returns the offset after them.
 */
export function writeProperties(
  buffer: Buffer,
  offset: number,
  properties: Properties | undefined,
  length: number,
): number {
  offset = writeVarint(buffer, offset, length);
  if (properties === undefined || length === 0) return offset;
  const start = offset;
  const bag = properties as PropertyBag;
  for (const definition of PROPERTY_DEFINITIONS) {
    const value = bag[definition.key];
    if (value !== undefined) offset = writeValue(buffer, offset, definition, value);
  }
  assert(offset - start === length, "property length mismatch");
  return offset;
}

function writeValue(
  buffer: Buffer,
  offset: number,
  definition: PropertyDefinition,
  value: PropertyBag[string],
): number {
  const id = definition.id;
  switch (definition.kind) {
    case Kind.FLAG:
      buffer[offset] = id;
      buffer[offset + 1] = value as number;
      return offset + 2;
    case Kind.UINT16:
      buffer[offset] = id;
      buffer.writeUInt16BE(value as number, offset + 1);
      return offset + 3;
    case Kind.UINT32:
      buffer[offset] = id;
      buffer.writeUInt32BE(value as number, offset + 1);
      return offset + 5;
    case Kind.VARINT:
      for (const identifier of value as number[]) {
        buffer[offset] = id;
        offset = writeVarint(buffer, offset + 1, identifier);
      }
      return offset;
    case Kind.STRING:
      buffer[offset] = id;
      return writeString(buffer, offset + 1, value as string);
    case Kind.BINARY:
      buffer[offset] = id;
      return writeBinary(buffer, offset + 1, value as Buffer);
    case Kind.PAIR:
      for (const [name, pairValue] of value as Array<[string, string]>) {
        buffer[offset] = id;
        offset = writeString(buffer, offset + 1, name);
        offset = writeString(buffer, offset, pairValue);
      }
      return offset;
  }
}
