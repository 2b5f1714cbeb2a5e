/**
 * What a Kafka record becomes on the MQTT side (the pure part of the Kafka -> MQTT direction):
 * the topic the rule's template gives it, and the v5 properties its headers give. Nothing here
 * touches the broker or the log.
 */
import { isUtf8 } from "node:buffer";
import { validateTopicName } from "../broker/mqtt/topic.ts";
import { assert } from "../errors.ts";
import { VARINT_MAX } from "../protocol/mqtt/constants.ts";
import type { Properties } from "../protocol/mqtt/packets.ts";

/** Most bytes an MQTT string holds: its length prefix has 16 bits [MQTT-1.5.4]. */
const STRING_BYTES_MAX = 0xffff;
/** Characters that surely fit in STRING_BYTES_MAX (a UTF-16 unit is at most 3 UTF-8 bytes). */
const STRING_UNITS_ALWAYS_FIT = Math.floor(STRING_BYTES_MAX / 3);
/**
 * PUBLISH bytes besides the topic's text, the properties and the payload, at most: the topic's
 * length prefix (2), the packet identifier (2), the Property Length varint (4).
 */
const PUBLISH_OTHER_BYTES_MAX = 8;
/** The header that carries the content type (added by the MQTT -> Kafka direction). */
const CONTENT_TYPE_HEADER = "mqtt.content_type";

/** The template placeholders, replaced in one pass (see templatedTopic). */
const PLACEHOLDERS = /\{(key|topic|partition)\}/g;
/** Anything shaped like a placeholder, to refuse a template with an unknown one. */
const PLACEHOLDER_LIKE = /\{[^{}/]*\}/g;
const PLACEHOLDER_NAMES = new Set(["{key}", "{topic}", "{partition}"]);

/**
 * Why a kafka_to_mqtt `mqtt_topic` template can never give a topic the bridge publishes to, or
 * null when it can; checked when the config is loaded, not on every record.
 */
export function topicTemplateProblem(template: string): string | null {
  if (template.length === 0) return "must not be empty";
  if (template.includes("+") || template.includes("#")) {
    return "a topic template may hold no wildcard";
  }
  if (template.includes("\0")) return "a topic template may not contain U+0000 (NUL)";
  if (template.startsWith("$")) {
    return "a topic template may not start with $ (topics starting with $ are not published to)";
  }
  for (const [placeholder] of template.matchAll(PLACEHOLDER_LIKE)) {
    if (!PLACEHOLDER_NAMES.has(placeholder)) {
      return `unknown placeholder ${placeholder}: only {key}, {topic} and {partition}`;
    }
  }
  return null;
}

/**
 * The MQTT topic `template` gives a record; null when that is not a valid topic name (or starts
 * with `$`, which is for the broker's own topics). One pass with a replacer function: a key's
 * text is taken literally, so `$&` in it is no replacement pattern and a `{topic}` in it is not
 * expanded again. A key that is not UTF-8 gives no topic (when the template uses it): decoding
 * would turn its bad bytes into U+FFFD, and different keys would share one topic.
 */
export function templatedTopic(
  template: string,
  key: Buffer | null,
  kafkaTopic: string,
  partition: number,
): string | null {
  let keyValid = true;
  const topic = template.replace(PLACEHOLDERS, (_match, name: string) => {
    if (name === "topic") return kafkaTopic;
    if (name === "partition") return String(partition);
    if (key === null) return "";
    keyValid &&= isUtf8(key);
    return key.toString();
  });
  if (!keyValid || !validateTopicName(topic) || topic.startsWith("$")) return null;
  return topic;
}

/** A record's v5 properties, and the headers left out because MQTT cannot carry them. */
export interface RecordProperties {
  /** Undefined when no header gives one (the hot path sends no properties). */
  properties: Properties | undefined;
  /** How many headers were left out. */
  leftOutCount: number;
  /** The first header left out and why, for the log; null when none was. */
  leftOut: { key: string; reason: string } | null;
}

/**
 * Room for the properties in a PUBLISH of this topic and payload: its Remaining Length is a
 * varint of at most VARINT_MAX bytes. Negative when the topic and payload alone do not fit.
 */
export function propertiesBytesMax(topic: string, payloadBytes: number): number {
  return VARINT_MAX - PUBLISH_OTHER_BYTES_MAX - Buffer.byteLength(topic) - payloadBytes;
}

/**
 * The v5 properties for a record's headers: `mqtt.content_type` is the content type, the other
 * `mqtt.*` headers (the MQTT -> Kafka direction's own) are dropped, every other header is a
 * user property. A header an MQTT string cannot carry (U+0000, a lone surrogate, over 65,535
 * bytes), or one that would take the properties past `bytesMax`, is left out and counted:
 * encoding it would fail for every MQTT 5 subscriber.
 */
export function recordProperties(
  headers: ReadonlyArray<{ key: string; value: Buffer | null }>,
  bytesMax: number,
): RecordProperties {
  const result: RecordProperties = { properties: undefined, leftOutCount: 0, leftOut: null };
  let contentType: string | undefined;
  let contentTypeBytes = 0;
  const userProperties: Array<[string, string]> = [];
  let bytes = 0;
  for (const header of headers) {
    const isContentType = header.key === CONTENT_TYPE_HEADER;
    if (!isContentType && header.key.startsWith("mqtt.")) continue;
    const value = headerText(header.value);
    const problem = stringProblem(header.key) ?? (value === null ? TOO_LONG : stringProblem(value));
    // Identifier byte, then a string (content type) or a pair of strings (user property).
    const size = problem === null ? propertyBytes(isContentType, header.key, value as string) : 0;
    const replaced = isContentType ? contentTypeBytes : 0;
    const reason = problem ?? (bytes - replaced + size > bytesMax ? NO_ROOM : null);
    if (reason !== null) {
      result.leftOutCount++;
      if (result.leftOut === null) result.leftOut = { key: header.key, reason };
      continue;
    }
    bytes += size - replaced;
    if (isContentType) {
      contentType = value as string;
      contentTypeBytes = size;
    } else {
      userProperties.push([header.key, value as string]);
    }
  }
  assert(bytes >= 0 && bytes <= Math.max(0, bytesMax), "properties within their room");
  if (contentType === undefined && userProperties.length === 0) return result;
  const properties: Properties = {};
  if (contentType !== undefined) properties.contentType = contentType;
  if (userProperties.length > 0) properties.userProperties = userProperties;
  result.properties = properties;
  return result;
}

const TOO_LONG = `over ${STRING_BYTES_MAX} bytes`;
const NO_ROOM = "no room left in the MQTT packet";

/** A header value as text; null when it is surely too long for an MQTT string. */
function headerText(value: Buffer | null): string | null {
  if (value === null) return "";
  // Decoding never shrinks it (a bad byte becomes the 3-byte U+FFFD): no need to decode.
  if (value.length > STRING_BYTES_MAX) return null;
  return value.toString();
}

/** Why an MQTT string cannot carry `text`, or null when it can [MQTT-1.5.4-1, -2]. */
export function stringProblem(text: string): string | null {
  if (text.indexOf("\0") !== -1) return "U+0000";
  if (!text.isWellFormed()) return "a lone surrogate";
  if (text.length > STRING_UNITS_ALWAYS_FIT && Buffer.byteLength(text) > STRING_BYTES_MAX) {
    return TOO_LONG;
  }
  return null;
}

function propertyBytes(isContentType: boolean, key: string, value: string): number {
  const valueBytes = 2 + Buffer.byteLength(value);
  return isContentType ? 1 + valueBytes : 1 + 2 + Buffer.byteLength(key) + valueBytes;
}
