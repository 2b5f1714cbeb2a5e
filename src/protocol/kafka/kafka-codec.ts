/**
 * Typed Kafka frames: request and response headers and bodies for every API with a schema.
 * The schemas are read once when this module loads; each (message, version) is compiled on first
 * use and cached.
 *
 * Header versions follow Kafka: a request in a flexible version has header v2 (tagged fields),
 * otherwise v1; a response in a flexible version has header v1, otherwise v0, except that
 * ApiVersions responses always use header v0 so that a client can read the answer whatever
 * version it asked for.
 */
import { ApiKey, type ApiKeyValue, isKnownApiKey } from "./api-keys.ts";
import { ByteReader } from "./byte-reader.ts";
import { ByteWriter } from "./byte-writer.ts";
import { KafkaCodecError } from "./codec-error.ts";
import type { KafkaApiMessages } from "./generated/messages.ts";
import { compileMessage, type KafkaStruct, type StructCodec } from "./message-codec.ts";
import {
  inRange,
  loadMessageSpecs,
  type MessageSpec,
  parseVersions,
  type VersionRange,
} from "./schema-spec.ts";

export type RequestBody<K extends ApiKeyValue> = KafkaApiMessages[K]["request"];
export type ResponseBody<K extends ApiKeyValue> = KafkaApiMessages[K]["response"];

/** What an encoder accepts: any field may be left out and is then written as its default. */
export type Encodable<T> = T extends Buffer
  ? T
  : T extends readonly (infer U)[]
    ? Encodable<U>[]
    : T extends object
      ? { [K in keyof T]?: Encodable<T[K]> }
      : T;

export interface RequestHeader {
  requestApiKey: number;
  requestApiVersion: number;
  correlationId: number;
  clientId: string | null;
}

const specs = loadMessageSpecs();
/** Per schema, its codecs by version, compiled on first use. */
const compiled = new Map<MessageSpec, StructCodec[]>();
const requestSpecs = new Map<number, MessageSpec>();
const responseSpecs = new Map<number, MessageSpec>();
for (const spec of specs.values()) {
  if (spec.apiKey === undefined) continue;
  if (spec.type === "request") requestSpecs.set(spec.apiKey, spec);
  if (spec.type === "response") responseSpecs.set(spec.apiKey, spec);
}

function codecOf(spec: MessageSpec, version: number): StructCodec {
  let byVersion = compiled.get(spec);
  if (byVersion === undefined) {
    byVersion = [];
    compiled.set(spec, byVersion);
  }
  let codec = byVersion[version];
  if (codec === undefined) {
    codec = compileMessage(spec, version);
    byVersion[version] = codec;
  }
  return codec;
}

function headerSpec(name: string): MessageSpec {
  const spec = specs.get(name);
  if (spec === undefined) throw new Error(`schema ${name} missing`);
  return spec;
}

const REQUEST_HEADER = headerSpec("RequestHeader");
const RESPONSE_HEADER = headerSpec("ResponseHeader");

function requestSpec(apiKey: number): MessageSpec {
  const spec = requestSpecs.get(apiKey);
  if (spec === undefined) throw new KafkaCodecError("invalid", `unknown API key ${apiKey}`);
  return spec;
}

function responseSpec(apiKey: number): MessageSpec {
  const spec = responseSpecs.get(apiKey);
  if (spec === undefined) throw new KafkaCodecError("invalid", `unknown API key ${apiKey}`);
  return spec;
}

/** The versions the schema of this API defines (not necessarily what the broker supports). */
export function schemaVersions(apiKey: ApiKeyValue): VersionRange {
  return parseVersions(requestSpec(apiKey).validVersions);
}

/** Whether `version` of the API uses flexible encoding; versions past the schema count too. */
export function isFlexible(apiKey: number, version: number): boolean {
  const spec = requestSpecs.get(apiKey);
  if (spec === undefined) return false;
  const flexible = parseVersions(spec.flexibleVersions);
  return flexible.lowest <= flexible.highest && version >= flexible.lowest;
}

export function requestHeaderVersion(apiKey: number, version: number): number {
  return isFlexible(apiKey, version) ? 2 : 1;
}

export function responseHeaderVersion(apiKey: number, version: number): number {
  if (apiKey === ApiKey.ApiVersions) return 0;
  return isFlexible(apiKey, version) ? 1 : 0;
}

/**
 * Reads the request header. The API key and version come first in every header version, so
 * they choose the header version; for an unknown API the v1 header is read (its client id is
 * still readable, which is all the log line needs).
 */
export function decodeRequestHeader(reader: ByteReader): RequestHeader {
  if (reader.remaining < 4) throw new KafkaCodecError("truncated", "request header cut short");
  const apiKey = reader.buffer.readInt16BE(reader.offset);
  const version = reader.buffer.readInt16BE(reader.offset + 2);
  const value = codecOf(REQUEST_HEADER, requestHeaderVersion(apiKey, version)).read(reader);
  return value as unknown as RequestHeader;
}

export function decodeRequestBody<K extends ApiKeyValue>(
  apiKey: K,
  version: number,
  reader: ByteReader,
): RequestBody<K> {
  const spec = requestSpec(apiKey);
  if (!inRange(parseVersions(spec.validVersions), version)) {
    throw new KafkaCodecError("invalid", `${spec.name} version ${version} has no schema`);
  }
  return codecOf(spec, version).read(reader) as unknown as RequestBody<K>;
}

export function decodeResponseBody<K extends ApiKeyValue>(
  apiKey: K,
  version: number,
  reader: ByteReader,
): ResponseBody<K> {
  return codecOf(responseSpec(apiKey), version).read(reader) as unknown as ResponseBody<K>;
}

export function encodeRequestBody<K extends ApiKeyValue>(
  apiKey: K,
  version: number,
  writer: ByteWriter,
  body: Encodable<RequestBody<K>>,
): void {
  codecOf(requestSpec(apiKey), version).write(writer, body as unknown as KafkaStruct);
}

export function encodeResponseBody<K extends ApiKeyValue>(
  apiKey: K,
  version: number,
  writer: ByteWriter,
  body: Encodable<ResponseBody<K>>,
): void {
  codecOf(responseSpec(apiKey), version).write(writer, body as unknown as KafkaStruct);
}

/** A whole response frame (int32 size, header, body) as chunks ready for the socket. */
export function encodeResponseFrame<K extends ApiKeyValue>(
  apiKey: K,
  version: number,
  correlationId: number,
  body: Encodable<ResponseBody<K>>,
): Buffer[] {
  const writer = new ByteWriter(true);
  const header = codecOf(RESPONSE_HEADER, responseHeaderVersion(apiKey, version));
  header.write(writer, { correlationId });
  encodeResponseBody(apiKey, version, writer, body);
  return writer.finish();
}

/** A whole request frame; used by tests and tools that act as a Kafka client. */
export function encodeRequestFrame<K extends ApiKeyValue>(
  apiKey: K,
  version: number,
  correlationId: number,
  clientId: string | null,
  body: Encodable<RequestBody<K>>,
): Buffer[] {
  const writer = new ByteWriter(true);
  const header = codecOf(REQUEST_HEADER, requestHeaderVersion(apiKey, version));
  header.write(writer, {
    requestApiKey: apiKey,
    requestApiVersion: version,
    correlationId,
    clientId,
  });
  encodeRequestBody(apiKey, version, writer, body);
  return writer.finish();
}

/** Reads a response frame without its size prefix; the inverse of encodeResponseFrame. */
export function decodeResponseFrame<K extends ApiKeyValue>(
  apiKey: K,
  version: number,
  frame: Buffer,
): { correlationId: number; body: ResponseBody<K> } {
  const reader = new ByteReader(frame);
  const header = codecOf(RESPONSE_HEADER, responseHeaderVersion(apiKey, version)).read(reader);
  const body = decodeResponseBody(apiKey, version, reader);
  if (reader.remaining !== 0) {
    throw new KafkaCodecError("invalid", `${reader.remaining} bytes after the response body`);
  }
  return { correlationId: Number(header.correlationId), body };
}

export { isKnownApiKey };
