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
  /** Largest batch a topic the bridge creates takes (its max.message.bytes). */
  readonly #batchBytesMaxDefault: number;
  /** The message refuses() last let through and its record batch, built once for forward(). */
  #checked: { message: Message; batch: Buffer } | null = null;
  forwarded = 0;
  /** Appends that failed, and messages refused up front as too large for a rule's topic. */
  failed = 0;

  constructor(
    rules: readonly MqttToKafkaRule[],
    store: TopicStore,
    partitions: number,
    batchBytesMaxDefault: number,
    logger: Logger,
  ) {
    for (const [i, rule] of rules.entries()) this.#rules.add(rule.mqtt_filter, String(i), rule);
    this.#store = store;
    this.#partitions = partitions;
    this.#batchBytesMaxDefault = batchBytesMaxDefault;
    this.#logger = logger;
  }

  /**
   * Whether a matching rule's Kafka topic would refuse the message's record as too large. Asked
   * before the message is routed or acknowledged: the publisher is refused up front, and no
   * subscriber gets a message Kafka does not take (a v3.1.1 publisher would otherwise be
   * disconnected, resend, and the subscribers get it again each time).
   */
  refuses(message: Message): boolean {
    if (message.fromKafka) return false;
    let batch: Buffer | null = null;
    let refusedBy: string | null = null;
    let limit = 0;
    this.#rules.match(message.topic, (_key, rule) => {
      if (refusedBy !== null) return;
      batch ??= recordBatch(message);
      limit = this.#batchBytesMax(rule.kafka_topic);
      if (batch.length > limit) refusedBy = rule.kafka_topic;
    });
    this.#checked = batch === null || refusedBy !== null ? null : { message, batch };
    if (refusedBy === null) return false;
    this.failed++;
    this.#logger.warn(
      {
        clientId: message.origin,
        topic: message.topic,
        kafkaTopic: refusedBy,
        bytes: (batch as Buffer | null)?.length,
        bytesMax: limit,
      },
      "bridge: MQTT message larger than its Kafka topic takes: refused",
    );
    return true;
  }

  /**
   * The topic's limit on one batch (its partitions share their options); a topic not created
   * yet will have the default one.
   */
  #batchBytesMax(name: string): number {
    return this.#store.get(name)?.logs[0].options.batch_bytes_max ?? this.#batchBytesMaxDefault;
  }

  /** Appends the message for every matching rule; resolves once stored, null if none matched. */
  forward(message: Message): Promise<unknown> | null {
    if (message.fromKafka) return null; // came from Kafka: no loop back
    const checked = this.#checked;
    this.#checked = null;
    let batch = checked?.message === message ? checked.batch : null;
    let appends: Promise<unknown>[] | null = null;
    this.#rules.match(message.topic, (_key, rule) => {
      if (appends === null) appends = [];
      // Each append gets a batch of its own: the log may write into it (its base offset).
      appends.push(this.#append(rule.kafka_topic, message, batch ?? recordBatch(message)));
      batch = null;
    });
    if (appends === null) return null;
    return Promise.all(appends as Promise<unknown>[]);
  }

  async #append(name: string, message: Message, batch: Buffer): Promise<void> {
    try {
      const topic = await this.#topic(name);
      const key = Buffer.from(message.topic);
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

/** The one record a message becomes, in a batch of its own. */
function recordBatch(message: Message): Buffer {
  const key = Buffer.from(message.topic);
  return buildRecordBatch([
    { timestamp: Date.now(), key, value: message.payload, headers: headersOf(message) },
  ]);
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
