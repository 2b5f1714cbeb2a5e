/**
 * MQTT -> Kafka: every MQTT message whose topic matches a rule's filter is appended to the
 * rule's Kafka topic as one record: key = MQTT topic, value = payload, headers = the v5 user
 * properties, then `mqtt.qos`, `mqtt.retain` and (if set) `mqtt.content_type`. The partition
 * is the one Kafka's default partitioner picks for the key, so each MQTT topic stays in order.
 */
import type { KafkaTopic, TopicStore } from "../broker/kafka/topic-store.ts";
import type { Message } from "../broker/mqtt/message.ts";
import { SubscriptionTrie } from "../broker/mqtt/topic-trie.ts";
import type { Logger } from "../log/logger.ts";
import { buildRecordBatch, type RecordHeader } from "../storage/log/index.ts";
import { partitionForKey } from "./partitioner.ts";

export interface MqttToKafkaRule {
  mqtt_filter: string;
  kafka_topic: string;
}

export class MqttToKafka {
  readonly #rules = new SubscriptionTrie<MqttToKafkaRule>();
  readonly #store: TopicStore;
  readonly #partitions: number;
  readonly #logger: Logger;
  /** Topics by name, created on first use. */
  readonly #topics = new Map<string, Promise<KafkaTopic>>();
  forwarded = 0;
  failed = 0;

  constructor(
    rules: readonly MqttToKafkaRule[],
    store: TopicStore,
    partitions: number,
    logger: Logger,
  ) {
    for (const [i, rule] of rules.entries()) this.#rules.add(rule.mqtt_filter, String(i), rule);
    this.#store = store;
    this.#partitions = partitions;
    this.#logger = logger;
  }

  /** Appends the message for every matching rule; resolves once stored, null if none matched. */
  forward(message: Message): Promise<unknown> | null {
    if (message.fromKafka) return null; // came from Kafka: no loop back
    let appends: Promise<unknown>[] | null = null;
    this.#rules.match(message.topic, (_key, rule) => {
      if (appends === null) appends = [];
      appends.push(this.#append(rule.kafka_topic, message));
    });
    if (appends === null) return null;
    return Promise.all(appends as Promise<unknown>[]);
  }

  async #append(name: string, message: Message): Promise<void> {
    try {
      const topic = await this.#topic(name);
      const key = Buffer.from(message.topic);
      const batch = buildRecordBatch([
        { timestamp: Date.now(), key, value: message.payload, headers: headersOf(message) },
      ]);
      await this.#store.append(topic, partitionForKey(key, topic.logs.length), batch);
      this.forwarded++;
    } catch (err) {
      this.failed++;
      this.#logger.warn(
        { err, topic: message.topic, kafkaTopic: name },
        "bridge: MQTT message not appended to Kafka",
      );
      throw err;
    }
  }

  #topic(name: string): Promise<KafkaTopic> {
    const existing = this.#store.get(name);
    if (existing !== undefined) return Promise.resolve(existing);
    let pending = this.#topics.get(name);
    if (pending === undefined) {
      pending = this.#store.create(name, this.#partitions, {}, "reuse").then(({ topic }) => topic);
      // Only while it is being created: afterwards the store is asked (it may be deleted).
      const forget = () => this.#topics.delete(name);
      pending.then(forget, forget);
      this.#topics.set(name, pending);
    }
    return pending;
  }
}

function headersOf(message: Message): RecordHeader[] {
  const headers: RecordHeader[] = [];
  for (const [key, value] of message.properties?.userProperties ?? []) {
    headers.push({ key, value: Buffer.from(value) });
  }
  headers.push({ key: "mqtt.qos", value: Buffer.from(String(message.qos)) });
  headers.push({ key: "mqtt.retain", value: Buffer.from(String(message.retain)) });
  const contentType = message.properties?.contentType;
  if (contentType !== undefined)
    headers.push({ key: "mqtt.content_type", value: Buffer.from(contentType) });
  return headers;
}
