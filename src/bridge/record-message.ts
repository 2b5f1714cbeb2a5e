/**
 * What a Kafka record becomes on the MQTT side (the pure part of the Kafka -> MQTT direction):
 * the topic the rule's template gives it. Nothing here touches the broker or the log.
 */
import { validateTopicName } from "../broker/mqtt/topic.ts";

/** The template placeholders, replaced in one pass (see templatedTopic). */
const PLACEHOLDERS = /\{(key|topic|partition)\}/g;

/**
 * The MQTT topic `template` gives a record; null when that is not a valid topic name (or starts
 * with `$`, which is for the broker's own topics). One pass with a replacer function: a key's
 * text is taken literally, so `$&` in it is no replacement pattern and a `{topic}` in it is not
 * expanded again.
 */
export function templatedTopic(
  template: string,
  key: Buffer | null,
  kafkaTopic: string,
  partition: number,
): string | null {
  const keyText = key === null ? "" : key.toString();
  const topic = template.replace(PLACEHOLDERS, (_match, name: string) =>
    name === "key" ? keyText : name === "topic" ? kafkaTopic : String(partition),
  );
  if (!validateTopicName(topic) || topic.startsWith("$")) return null;
  return topic;
}
