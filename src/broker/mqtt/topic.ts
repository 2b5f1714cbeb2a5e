/**
 * Topic names, topic filters and shared-subscription filters (MQTT 5 sections 4.7 and 4.8).
 *
 * These checks run on every PUBLISH and SUBSCRIBE, so each one is a single pass over char codes
 * with no allocation. The codec has already rejected ill-formed UTF-8 (section 1.5.4), so a
 * string here holds no lone surrogates.
 */
import { Buffer } from "node:buffer";

/** A topic name or filter is a UTF-8 string, so it is at most this long on the wire. */
export const TOPIC_LENGTH_BYTES_MAX = 65_535;

/** One UTF-16 code unit is at most 3 UTF-8 bytes; anything this short needs no byte count. */
const TOPIC_LENGTH_UNITS_ALWAYS_FIT = Math.floor(TOPIC_LENGTH_BYTES_MAX / 3);

const CHAR_NUL = 0x00;
const CHAR_HASH = 0x23; // '#'
const CHAR_DOLLAR = 0x24; // '$'
const CHAR_PLUS = 0x2b; // '+'
const CHAR_SLASH = 0x2f; // '/'

const SHARE_PREFIX = "$share/";

/** [MQTT-4.7.3-3] Counting UTF-8 bytes only when the UTF-16 length leaves any doubt. */
function fitsLengthLimit(text: string): boolean {
  if (text.length <= TOPIC_LENGTH_UNITS_ALWAYS_FIT) return true;
  if (text.length > TOPIC_LENGTH_BYTES_MAX) return false;
  return Buffer.byteLength(text, "utf8") <= TOPIC_LENGTH_BYTES_MAX;
}

/** A topic name as carried in PUBLISH (and in a will message). */
export function validateTopicName(topic: string): boolean {
  if (topic.length === 0) return false; // [MQTT-4.7.3-1]
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === CHAR_PLUS || c === CHAR_HASH) return false; // [MQTT-3.3.2-2] [MQTT-4.7.0-1]
    if (c === CHAR_NUL) return false; // [MQTT-4.7.3-2]
  }
  return fitsLengthLimit(topic);
}

/**
 * A Response Topic (PUBLISH or will property) names the topic a responder publishes to, so it
 * must not contain wildcards [MQTT-3.3.2-14]. The codec has checked the rest (UTF-8, no U+0000).
 */
export function validateResponseTopic(topic: string): boolean {
  return !hasWildcard(topic);
}

/**
 * A topic filter as carried in SUBSCRIBE / UNSUBSCRIBE (after any `$share/{group}/` prefix has
 * been taken off). Empty levels are allowed: "a//b", "/+" and "+/" are valid.
 */
export function validateTopicFilter(filter: string): boolean {
  const length = filter.length;
  if (length === 0) return false; // [MQTT-4.7.3-1]
  for (let i = 0; i < length; i++) {
    const c = filter.charCodeAt(i);
    if (c === CHAR_NUL) return false; // [MQTT-4.7.3-2]
    if (c !== CHAR_PLUS && c !== CHAR_HASH) continue;
    // Both wildcards must fill their whole level: preceded by '/' or the start.
    if (i > 0 && filter.charCodeAt(i - 1) !== CHAR_SLASH) return false;
    if (c === CHAR_HASH) {
      if (i !== length - 1) return false; // [MQTT-4.7.1-1] '#' is the last character
    } else if (i + 1 < length && filter.charCodeAt(i + 1) !== CHAR_SLASH) {
      return false; // [MQTT-4.7.1-2]
    }
  }
  return fitsLengthLimit(filter);
}

/** A shared subscription's group and the filter it subscribes to. */
export interface SharedFilter {
  group: string;
  filter: string;
}

/**
 * Splits `$share/{ShareName}/{filter}`. Returns null when `filter` is not a shared subscription
 * (the caller then validates it as a plain filter) and "invalid" when it starts with `$share/`
 * but breaks a rule, which the broker answers with reason code 0x8F.
 */
export function parseSharedFilter(filter: string): SharedFilter | null | "invalid" {
  if (!filter.startsWith(SHARE_PREFIX)) return null;
  const groupStart = SHARE_PREFIX.length;
  const groupEnd = filter.indexOf("/", groupStart);
  // "$share/g" has no filter at all; "$share//a" has an empty ShareName.
  if (groupEnd <= groupStart) return "invalid"; // [MQTT-4.8.2-1]
  for (let i = groupStart; i < groupEnd; i++) {
    const c = filter.charCodeAt(i);
    if (c === CHAR_PLUS || c === CHAR_HASH || c === CHAR_NUL) return "invalid"; // [MQTT-4.8.2-2]
  }
  const inner = filter.slice(groupEnd + 1);
  // Checking the whole string's length covers the inner filter's too.
  if (!validateTopicFilter(inner) || !fitsLengthLimit(filter)) return "invalid";
  return { group: filter.slice(groupStart, groupEnd), filter: inner };
}

/** Levels are separated by '/', and empty levels count: "/a" has two, "a/" has two. */
export function topicLevelCount(topic: string): number {
  let count = 1;
  for (let i = 0; i < topic.length; i++) {
    if (topic.charCodeAt(i) === CHAR_SLASH) count++;
  }
  return count;
}

/**
 * Topics starting with '$' belong to the server ($SYS/...) or to extensions ($share, $delayed);
 * [MQTT-4.7.2-1] keeps them away from filters that start with a wildcard.
 */
export function isSysTopic(topic: string): boolean {
  return topic.charCodeAt(0) === CHAR_DOLLAR;
}

/** True when the filter holds '+' or '#' and so cannot be looked up as an exact topic name. */
export function hasWildcard(filter: string): boolean {
  for (let i = 0; i < filter.length; i++) {
    const c = filter.charCodeAt(i);
    if (c === CHAR_PLUS || c === CHAR_HASH) return true;
  }
  return false;
}
