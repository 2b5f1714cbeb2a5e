/**
 * Kafka -> MQTT: records appended to a rule's Kafka topic (by Kafka clients, or by the other
 * direction) are published to MQTT subscribers. The MQTT topic comes from the rule's template:
 * `{key}` is the record key, `{topic}` the Kafka topic, `{partition}` the partition; QoS and
 * retain come from the rule. Headers become v5 user properties, except `mqtt.content_type`
 * (the content type), the other `mqtt.*` headers the MQTT -> Kafka direction adds and those an
 * MQTT string cannot carry (record-message.ts). Each partition is read from where the bridge
 * left off (positions are saved under data_dir/bridge); a fresh rule starts at the end of the
 * log. A record that cannot be published is skipped and counted, never retried.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { partitionKey } from "../broker/kafka/partition-waiters.ts";
import type { KafkaTopic, TopicStore } from "../broker/kafka/topic-store.ts";
import type { MqttBroker } from "../broker/mqtt/broker.ts";
import { Message } from "../broker/mqtt/message.ts";
import type { Logger } from "../log/logger.ts";
import type { QoS } from "../protocol/mqtt/constants.ts";
import {
  anyBatchRecords,
  batchBaseOffset,
  batchLastOffsetDelta,
  batchSizeBytes,
  type LogRecord,
} from "../storage/log/index.ts";
import { propertiesBytesMax, recordProperties, templatedTopic } from "./record-message.ts";

export interface KafkaToMqttRule {
  kafka_topic: string;
  mqtt_topic: string;
  qos: QoS;
  retain: boolean;
}

const READ_BYTES = 1 << 20;
const POLL_MS = 1000;
const SAVE_INTERVAL_MS = 1000;
/** A header key in a log line is cut to this: keys can be as long as a record. */
const LOGGED_KEY_CHARS_MAX = 100;

export class KafkaToMqtt {
  readonly #rules: readonly KafkaToMqttRule[];
  readonly #store: TopicStore;
  readonly #broker: MqttBroker;
  readonly #logger: Logger;
  readonly #positionsFile: string;
  #positions: Record<string, number> = {};
  #dirty = false;
  readonly #abort = new AbortController();
  readonly #loops: Promise<void>[] = [];
  #saveTimer: NodeJS.Timeout | null = null;
  published = 0;
  /**
   * Records, batches and headers not published: a record with no valid MQTT topic, too large
   * for an MQTT packet or whose publishing failed; a batch it cannot decode; a header an MQTT
   * string cannot carry (the rest of its record is published).
   */
  skipped = 0;
  #headersLeftOutLogged = false;
  /** Reads of a partition that failed (retried after POLL_MS). */
  failed = 0;

  constructor(
    rules: readonly KafkaToMqttRule[],
    store: TopicStore,
    broker: MqttBroker,
    dataDir: string,
    logger: Logger,
  ) {
    this.#rules = rules;
    this.#store = store;
    this.#broker = broker;
    this.#logger = logger;
    this.#positionsFile = join(dataDir, "bridge", "positions.json");
  }

  async start(): Promise<void> {
    await mkdir(join(this.#positionsFile, ".."), { recursive: true });
    try {
      this.#positions = JSON.parse(await readFile(this.#positionsFile, "utf8")) as Record<
        string,
        number
      >;
    } catch {
      this.#positions = {};
    }
    for (const rule of this.#rules) this.#loops.push(this.#follow(rule));
    this.#saveTimer = setInterval(() => void this.#save(), SAVE_INTERVAL_MS);
    this.#saveTimer.unref();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    if (this.#saveTimer !== null) clearInterval(this.#saveTimer);
    await Promise.all(this.#loops);
    await this.#save();
  }

  /** Follows the rule's topic, and the topic of that name again if it is deleted and recreated. */
  async #follow(rule: KafkaToMqttRule): Promise<void> {
    const signal = this.#abort.signal;
    // History of a topic that existed before the rule is not replayed; a topic created later
    // is read from its start.
    let fromStart = this.#store.get(rule.kafka_topic) === undefined;
    while (!signal.aborted) {
      const topic = this.#store.get(rule.kafka_topic);
      if (topic === undefined) {
        fromStart = true;
        await sleep(POLL_MS, signal);
        continue;
      }
      await Promise.all(
        topic.logs.map((_, partition) => this.#followPartition(rule, topic, partition, fromStart)),
      );
      // Deleted (a topic of that name is a new one) or grown (its old partitions resume where
      // they were, the new ones hold only records written since): either way from the start.
      fromStart = true;
    }
  }

  async #followPartition(
    rule: KafkaToMqttRule,
    topic: KafkaTopic,
    partition: number,
    fromStart: boolean,
  ): Promise<void> {
    const signal = this.#abort.signal;
    const log = topic.logs[partition];
    const key = partitionKey(topic.metadata.name, partition);
    // By topic id: a topic deleted and created again starts afresh.
    const positionKey = `${topic.metadata.topicId}/${partition} ${rule.mqtt_topic}`;
    const saved = this.#positions[positionKey];
    let offset = saved ?? (fromStart ? log.logStartOffset : log.logEndOffset);
    while (!signal.aborted && this.#store.get(topic.metadata.name) === topic) {
      offset = Math.max(offset, log.logStartOffset);
      if (offset >= log.logEndOffset) {
        await this.#store.waiters.wait([key], POLL_MS, signal);
        continue;
      }
      try {
        offset = await this.#publishFrom(rule, topic, partition, offset);
      } catch (err) {
        this.failed++;
        this.#logger.warn(
          { err, kafkaTopic: rule.kafka_topic, partition, offset },
          "bridge: Kafka read failed",
        );
        await sleep(POLL_MS, signal);
        continue;
      }
      this.#positions[positionKey] = offset;
      this.#dirty = true;
    }
    // The topic was replaced: grown by CreatePartitions (same id: this partition resumes here,
    // not from its start) or deleted (another id: this position is never read again).
    if (!signal.aborted && this.#positions[positionKey] !== offset) {
      this.#positions[positionKey] = offset;
      this.#dirty = true;
    }
  }

  /** Publishes the records of one read from `offset`; returns the next offset. */
  async #publishFrom(
    rule: KafkaToMqttRule,
    topic: KafkaTopic,
    partition: number,
    offset: number,
  ): Promise<number> {
    const log = topic.logs[partition];
    const slice = await log.read(offset, READ_BYTES);
    if (slice.sizeBytes === 0) return offset;
    const buffer = await log.readSlice(slice);
    let next = offset;
    for (let at = 0; at < buffer.length; at += batchSizeBytes(buffer, at)) {
      const decoded = anyBatchRecords(buffer, at);
      if (decoded.kind === "ok") {
        for (const record of decoded.records) {
          if (record.offset < offset) continue;
          this.#publishRecord(rule, topic.metadata.name, partition, record);
        }
      } else {
        this.skipped++;
        const reason = decoded.kind === "corrupt" ? decoded.reason : "compressed";
        this.#logger.warn(
          { kafkaTopic: topic.metadata.name, partition, reason },
          "bridge: batch skipped",
        );
      }
      next = batchBaseOffset(buffer, at) + batchLastOffsetDelta(buffer, at) + 1;
    }
    return next;
  }

  /** Publishes one record; one that fails is skipped, so it cannot hold up its partition. */
  #publishRecord(rule: KafkaToMqttRule, kafkaTopic: string, partition: number, record: LogRecord) {
    try {
      this.#publish(rule, kafkaTopic, partition, record);
    } catch (err) {
      // Not retried: the same record would fail again, and again, blocking the records after
      // it while subscribers that did get it receive it once more on every try.
      this.skipped++;
      this.#logger.warn(
        { err, kafkaTopic, partition, offset: record.offset },
        "bridge: record could not be published to MQTT: skipped",
      );
    }
  }

  #publish(rule: KafkaToMqttRule, kafkaTopic: string, partition: number, record: LogRecord): void {
    const topic = templatedTopic(rule.mqtt_topic, record.key, kafkaTopic, partition);
    if (topic === null) {
      this.skipped++;
      this.#logger.debug(
        { kafkaTopic, partition, offset: record.offset },
        "bridge: not a valid MQTT topic name",
      );
      return;
    }
    const payload = Buffer.from(record.value ?? Buffer.alloc(0));
    const bytesMax = propertiesBytesMax(topic, payload.length);
    if (bytesMax < 0) {
      this.skipped++;
      this.#logger.warn(
        { kafkaTopic, partition, offset: record.offset },
        "bridge: record too large for an MQTT packet: skipped",
      );
      return;
    }
    const { properties, leftOutCount, leftOut } = recordProperties(record.headers, bytesMax);
    if (leftOut !== null)
      this.#headersLeftOut(kafkaTopic, partition, record, leftOutCount, leftOut);
    // Origin "" like the broker's own messages: no client id is empty (one is assigned).
    const message = new Message(topic, payload, rule.qos, rule.retain, properties, 0, "");
    message.fromKafka = true; // the other direction skips it: no loop
    this.#broker.publish(message);
    this.published++;
  }

  /** Counts headers MQTT cannot carry; logs at warn the first time, at debug after that. */
  #headersLeftOut(
    kafkaTopic: string,
    partition: number,
    record: LogRecord,
    count: number,
    first: { key: string; reason: string },
  ): void {
    this.skipped += count;
    const level = this.#headersLeftOutLogged ? "debug" : "warn";
    this.#headersLeftOutLogged = true;
    this.#logger[level](
      {
        kafkaTopic,
        partition,
        offset: record.offset,
        headers: count,
        header: first.key.slice(0, LOGGED_KEY_CHARS_MAX),
        reason: first.reason,
      },
      "bridge: Kafka headers MQTT cannot carry left out (logged once at warn)",
    );
  }

  async #save(): Promise<void> {
    if (!this.#dirty) return;
    this.#dirty = false;
    const temporary = `${this.#positionsFile}.tmp`;
    try {
      await writeFile(temporary, JSON.stringify(this.#positions));
      await rename(temporary, this.#positionsFile);
    } catch (err) {
      this.#dirty = true;
      this.#logger.warn({ err }, "bridge: positions not saved");
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
