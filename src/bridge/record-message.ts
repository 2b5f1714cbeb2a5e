/**
 * What a Kafka record becomes on the MQTT side (the pure part of the Kafka -> MQTT direction):
 * the topic the rule's template gives it. Nothing here touches the broker or the log.
 */
import { isUtf8 } from "node:buffer";
import { validateTopicName } from "../broker/mqtt/topic.ts";

/** The template placeholders, replaced in one pass (see templatedTopic). */
const PLACEHOLDERS = /\{(key|topic|partition)\}/g;

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
