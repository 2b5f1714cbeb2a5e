/**
 * Topic patterns of `robustmq bench`: `%i` is the client's index, `%c` its client id and `%%` a
 * literal percent sign. Also the topic matching used to predict how many messages the
 * subscribers of a run should receive.
 */
import { parseSharedFilter, validateTopicFilter, validateTopicName } from "../broker/mqtt/topic.ts";

const PERCENT = 0x25; // '%'

/**
 * Null when `pattern` uses only the escapes above, else what is wrong with it. Wildcards and
 * lengths are checked on an expansion (validatePublishTopic, validateSubscribeFilter).
 */
export function patternProblem(pattern: string): string | null {
  if (pattern.length === 0) return "must not be empty";
  for (let i = 0; i < pattern.length; i++) {
    if (pattern.charCodeAt(i) !== PERCENT) continue;
    const next = pattern[i + 1];
    if (next !== "i" && next !== "c" && next !== "%") {
      const placeholder = next === undefined ? "a trailing %" : `%${next}`;
      return `${placeholder} is not a placeholder: use %i (client index), %c (client id) or %% (a %)`;
    }
    i++;
  }
  return null;
}

/** The pattern with its placeholders filled in; the pattern must have passed patternProblem. */
export function expandTopic(pattern: string, index: number, clientId: string): string {
  if (pattern.indexOf("%") < 0) return pattern;
  let topic = "";
  let start = 0;
  for (let i = 0; i < pattern.length; i++) {
    if (pattern.charCodeAt(i) !== PERCENT) continue;
    topic += pattern.slice(start, i);
    const next = pattern[i + 1];
    topic += next === "i" ? String(index) : next === "c" ? clientId : "%";
    i++;
    start = i + 1;
  }
  return topic + pattern.slice(start);
}

/** A topic name PUBLISH may carry: no wildcards, not empty, at most 65,535 bytes. */
export function publishTopicProblem(topic: string): string | null {
  if (validateTopicName(topic)) return null;
  return `expands to ${JSON.stringify(shorten(topic))}, which is not a valid topic name to publish to (no + or #, no NUL, 1 to 65535 bytes)`;
}

/** A topic filter SUBSCRIBE may carry, shared (`$share/group/filter`) or not. */
export function subscribeFilterProblem(filter: string): string | null {
  const shared = parseSharedFilter(filter);
  if (shared === null ? validateTopicFilter(filter) : shared !== "invalid") return null;
  return `expands to ${JSON.stringify(shorten(filter))}, which is not a valid topic filter (+ and # fill a whole level, # comes last)`;
}

function shorten(text: string): string {
  return text.length <= 80 ? text : `${text.slice(0, 77)}...`;
}

/** Does the (non-shared) filter match the topic name? MQTT section 4.7, [MQTT-4.7.2-1]. */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith("$") && (filter.startsWith("+") || filter.startsWith("#"))) return false;
  const filterLevels = filter.split("/");
  const topicLevels = topic.split("/");
  for (let i = 0; i < filterLevels.length; i++) {
    const level = filterLevels[i];
    if (level === "#") return true; // also matches the parent level: "a/#" matches "a"
    if (i >= topicLevels.length) return false;
    if (level !== "+" && level !== topicLevels[i]) return false;
  }
  return filterLevels.length === topicLevels.length;
}

/**
 * How many subscribers receive a message published to each topic, or null when that cannot be
 * predicted cheaply: shared subscriptions (one member per group receives it), or more than
 * `matchesMax` topic-against-wildcard comparisons.
 */
export function fanoutCounts(
  topics: readonly string[],
  filters: readonly string[],
  matchesMax: number,
): number[] | null {
  const exact = new Map<string, number>();
  const wildcards: string[] = [];
  for (const filter of filters) {
    if (filter.startsWith("$share/")) return null;
    if (filter.includes("+") || filter.includes("#")) wildcards.push(filter);
    else exact.set(filter, (exact.get(filter) ?? 0) + 1);
  }
  if (topics.length * wildcards.length > matchesMax) return null;
  return topics.map((topic) => {
    let count = exact.get(topic) ?? 0;
    for (const filter of wildcards) if (topicMatches(filter, topic)) count++;
    return count;
  });
}
