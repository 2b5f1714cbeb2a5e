/**
 * Prometheus metrics (/metrics). Every broker value is read at scrape time by a collect
 * callback, from BrokerStats and the session map: the MQTT hot path only bumps plain numbers
 * and pays nothing for metrics.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Bridge } from "../bridge/bridge.ts";
import type { KafkaBroker } from "../broker/kafka/kafka-broker.ts";
import { AUTH_FAILURE_REASONS, AUTH_FAILURE_STATS } from "../broker/mqtt/auth-failures.ts";
import type { MqttBroker } from "../broker/mqtt/broker.ts";
import { DISCONNECT_REASONS, type DisconnectCounts } from "../broker/mqtt/disconnect-reasons.ts";
import type { BrokerStats } from "../broker/mqtt/stats.ts";
import { apiName } from "../protocol/kafka/api-keys.ts";
import { ioTiming } from "../storage/log/io-timing.ts";

type StatName = {
  [K in keyof BrokerStats]: BrokerStats[K] extends number ? K : never;
}[keyof BrokerStats];

/** Counters that map one BrokerStats field to one Prometheus counter. */
const COUNTERS: ReadonlyArray<[name: string, help: string, stat: StatName]> = [
  ["robustmq_connects_total", "MQTT connections accepted (CONNACK success)", "connects"],
  ["robustmq_disconnects_total", "MQTT connections closed after CONNECT", "disconnects"],
  [
    "robustmq_connections_refused_total",
    "MQTT connections refused: at the limits, or with a CONNACK failure",
    "connectionsRefused",
  ],
  ["robustmq_messages_received_total", "PUBLISH messages received (wills included)", "messagesIn"],
  ["robustmq_messages_sent_total", "PUBLISH messages sent to subscribers", "messagesOut"],
  ["robustmq_bytes_received_total", "Bytes read from MQTT clients", "bytesIn"],
  ["robustmq_bytes_sent_total", "Bytes written to MQTT clients", "bytesOut"],
  [
    "robustmq_protocol_errors_total",
    "Connections closed for breaking the MQTT rules",
    "protocolErrors",
  ],
  ["robustmq_internal_errors_total", "Connections closed by a broker bug", "internalErrors"],
  ["robustmq_slow_subscribers_total", "Subscribers that stopped keeping up", "slowSubscribers"],
  ["robustmq_retained_refused_total", "Retained messages not stored (limits)", "retainedRefused"],
  ["robustmq_sessions_expired_total", "Offline sessions ended by their expiry", "sessionsExpired"],
  ["robustmq_wills_published_total", "Will messages published", "willsPublished"],
  ["robustmq_auth_failures_total", "CONNECTs refused by the authenticators", "authFailures"],
  ["robustmq_banned_refused_total", "CONNECTs refused by a ban", "bannedRefused"],
  [
    "robustmq_acl_denied_total",
    "Publishes, subscriptions and wills refused by the ACL",
    "aclDenied",
  ],
  ["robustmq_delayed_published_total", "Delayed messages published once due", "delayedPublished"],
  [
    "robustmq_delayed_invalid_total",
    "Delayed publishes refused: malformed $delayed/ topic",
    "delayedInvalid",
  ],
  [
    "robustmq_delayed_quota_exceeded_total",
    "Delayed publishes refused: mqtt_delayed.max_messages waiting",
    "delayedQuotaExceeded",
  ],
  [
    "robustmq_delayed_expired_total",
    "Delayed messages whose Message Expiry passed while they waited",
    "delayedExpired",
  ],
];

/** Dropped-message counters, by the `reason` label. */
const DROP_REASONS: ReadonlyArray<[reason: string, stat: StatName]> = [
  ["slow_consumer", "droppedSlowConsumer"],
  ["queue_full", "droppedQueueFull"],
  ["expired", "droppedExpired"],
  ["offline", "droppedOffline"],
  ["too_large", "droppedTooLarge"],
  ["not_authorized", "droppedNotAuthorized"],
  ["payload_format", "droppedPayloadFormat"],
  ["schema_invalid", "droppedSchemaInvalid"],
];

export const DROP_REASON_LABELS = DROP_REASONS.map(([reason]) => reason);

/** A counter with one label, each value read at scrape time (remove + inc keeps it a counter). */
function labelledCounter(
  registry: Registry,
  name: string,
  help: string,
  label: string,
  read: () => ReadonlyArray<readonly [value: string, count: number]>,
): void {
  new Counter({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      for (const [value, count] of read()) {
        this.remove({ [label]: value });
        this.inc({ [label]: value }, count);
      }
    },
  });
}

/** Inflight and queued deliveries summed over all sessions: one pass, at scrape time only. */
function sessionTotals(broker: MqttBroker): { inflight: number; queued: number } {
  let inflight = 0;
  let queued = 0;
  for (const session of broker.sessions.values()) {
    inflight += session.inflightCount;
    queued += session.queueLength;
  }
  return { inflight, queued };
}

function registerCounters(registry: Registry, stats: BrokerStats): void {
  for (const [name, help, stat] of COUNTERS) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(stats[stat]);
      },
    });
  }
  new Counter({
    name: "robustmq_messages_dropped_total",
    help: "Messages not delivered to a subscriber, by reason",
    labelNames: ["reason"],
    registers: [registry],
    collect() {
      for (const [reason, stat] of DROP_REASONS) {
        this.remove({ reason });
        this.inc({ reason }, stats[stat]);
      }
    },
  });
}

/** Messages in and out by QoS: one labelled counter each, read from the per-QoS stats. */
function registerQosCounters(registry: Registry, stats: BrokerStats): void {
  const byQos: ReadonlyArray<[name: string, help: string, stats: readonly StatName[]]> = [
    [
      "robustmq_messages_received_by_qos_total",
      "PUBLISH messages received, by QoS",
      ["messagesInQos0", "messagesInQos1", "messagesInQos2"],
    ],
    [
      "robustmq_messages_sent_by_qos_total",
      "PUBLISH messages sent to subscribers, by QoS",
      ["messagesOutQos0", "messagesOutQos1", "messagesOutQos2"],
    ],
  ];
  for (const [name, help, names] of byQos) {
    new Counter({
      name,
      help,
      labelNames: ["qos"],
      registers: [registry],
      collect() {
        names.forEach((stat, qos) => {
          this.remove({ qos: String(qos) });
          this.inc({ qos: String(qos) }, stats[stat]);
        });
      },
    });
  }
}

/** Authentication refusals by reason (auth-failures.ts); the reasons sum to the total. */
function registerAuthFailureReasons(registry: Registry, stats: BrokerStats): void {
  labelledCounter(
    registry,
    "robustmq_auth_failures_by_reason_total",
    "CONNECTs refused by authentication, by reason",
    "reason",
    () => AUTH_FAILURE_REASONS.map((reason) => [reason, stats[AUTH_FAILURE_STATS[reason]]]),
  );
}

/** Refused connections by reason; the reasons sum to robustmq_connections_refused_total. */
function registerRefusalReasons(registry: Registry, stats: BrokerStats): void {
  labelledCounter(
    registry,
    "robustmq_connections_refused_by_reason_total",
    "MQTT connections refused, by reason",
    "reason",
    () => [
      ["max_connections", stats.connectionsRefusedLimit],
      ["max_connection_rate", stats.connectionsRefusedRate],
      [
        "other",
        stats.connectionsRefused - stats.connectionsRefusedLimit - stats.connectionsRefusedRate,
      ],
    ],
  );
}

function registerDisconnectReasons(registry: Registry, counts: DisconnectCounts): void {
  new Counter({
    name: "robustmq_disconnects_by_reason_total",
    help: "MQTT connections closed after CONNECT, by reason",
    labelNames: ["reason"],
    registers: [registry],
    collect() {
      for (const reason of DISCONNECT_REASONS) {
        this.remove({ reason });
        this.inc({ reason }, counts.get(reason));
      }
    },
  });
}

function registerGauges(registry: Registry, broker: MqttBroker): void {
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  gauge("robustmq_connections", "MQTT clients connected now", () => broker.connectedClients);
  gauge("robustmq_sockets", "Open client sockets, connected or not", () => broker.connections.size);
  gauge("robustmq_sessions", "Sessions, online and offline", () => broker.sessions.size);
  gauge(
    "robustmq_subscriptions",
    "Subscriptions in the router",
    () => broker.router.subscriptionCount,
  );
  gauge("robustmq_retained_messages", "Retained messages stored", () => broker.retained.size);
  gauge("robustmq_alarms_active", "System alarms active now (memory, CPU)", () => {
    return broker.alarms?.monitor.activeCount ?? 0;
  });
  gauge("robustmq_inflight_messages", "QoS 1/2 messages sent, not yet acknowledged", () => {
    return sessionTotals(broker).inflight;
  });
  gauge("robustmq_queued_messages", "Messages waiting in session queues", () => {
    return sessionTotals(broker).queued;
  });
  const delayed = broker.delayed;
  if (delayed !== null) {
    gauge("robustmq_delayed_messages", "Delayed messages waiting", () => delayed.size);
  }
  if (broker.persistence === null) return;
  const persistence = broker.persistence;
  gauge(
    "robustmq_mqtt_log_bytes",
    "Bytes of the MQTT message log",
    () => persistence.log.sizeBytes,
  );
  gauge(
    "robustmq_mqtt_log_segments",
    "Segment files of the MQTT message log",
    () => persistence.log.segmentCount,
  );
  new Counter({
    name: "robustmq_mqtt_log_append_failures_total",
    help: "Appends to the MQTT message log that failed (disk full, I/O error)",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(persistence.failedAppends);
    },
  });
}

/**
 * The registry behind /metrics: Node's default metrics (heap, RSS, event-loop lag, GC) plus the
 * broker's, the Kafka listener's and the bridge's, for those the node runs.
 */
export function createMetricsRegistry(
  broker: MqttBroker | null,
  kafka: KafkaBroker | null = null,
  bridge: Bridge | null = null,
): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  registerStorageTimings(registry);
  if (broker !== null) {
    registerCounters(registry, broker.stats);
    registerQosCounters(registry, broker.stats);
    registerDisconnectReasons(registry, broker.disconnectCounts);
    registerAuthFailureReasons(registry, broker.stats);
    registerRefusalReasons(registry, broker.stats);
    registerGauges(registry, broker);
  }
  if (kafka !== null) {
    registerKafkaTimings(registry, kafka);
    registerKafkaLogs(registry, kafka);
    const { fetchBytes } = kafka;
    labelledCounter(
      registry,
      "robustmq_kafka_fetch_bytes_total",
      "Record bytes of Kafka fetch answers, by how they were sent: sendfile (from the page cache, no copy) or copied (read into the broker, then written)",
      "path",
      () => [
        ["sendfile", fetchBytes.sendfile],
        ["copied", fetchBytes.copied],
      ],
    );
    const { authentication } = kafka;
    labelledCounter(
      registry,
      "robustmq_kafka_authentications_total",
      "Kafka SASL authentications that ended, by result",
      "result",
      () => [
        ["success", authentication.succeeded],
        ["failure", authentication.failed],
      ],
    );
  }
  if (bridge !== null) registerBridge(registry, bridge);
  return registry;
}

/** Disk latencies span 0.1 ms (page cache) to a second (a stalled disk). */
const IO_SECONDS_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];

/** Every log's group-commit writes and fsyncs (src/storage/log/io-timing.ts). */
function registerStorageTimings(registry: Registry): void {
  const write = new Histogram({
    name: "robustmq_storage_write_seconds",
    help: "Duration of the log's group-commit writes",
    buckets: IO_SECONDS_BUCKETS,
    registers: [registry],
  });
  const fsync = new Histogram({
    name: "robustmq_storage_fsync_seconds",
    help: "Duration of the log's fsyncs",
    buckets: IO_SECONDS_BUCKETS,
    registers: [registry],
  });
  ioTiming.write = (seconds) => write.observe(seconds);
  ioTiming.fsync = (seconds) => fsync.observe(seconds);
}

/** Kafka requests by API: the histogram's _count is the request count (rate() gives the rate). */
function registerKafkaTimings(registry: Registry, kafka: KafkaBroker): void {
  const duration = new Histogram({
    name: "robustmq_kafka_request_duration_seconds",
    help: "Kafka requests by API, from decoding to the answer being ready",
    labelNames: ["api"],
    buckets: IO_SECONDS_BUCKETS,
    registers: [registry],
  });
  const names = new Map<number, string>();
  kafka.requestTiming.observe = (apiKey, seconds) => {
    let api = names.get(apiKey);
    if (api === undefined) {
      api = apiName(apiKey);
      names.set(apiKey, api);
    }
    duration.observe({ api }, seconds);
  };
}

/** Every partition log of every Kafka topic: walked at scrape time only. */
function kafkaLogTotals(kafka: KafkaBroker): { bytes: number; segments: number } {
  let bytes = 0;
  let segments = 0;
  for (const name of kafka.store.names()) {
    for (const log of kafka.store.get(name)?.logs ?? []) {
      bytes += log.sizeBytes;
      segments += log.segmentCount;
    }
  }
  return { bytes, segments };
}

/** Bytes and segment files of the Kafka topics' logs (the MQTT log has its own gauges). */
function registerKafkaLogs(registry: Registry, kafka: KafkaBroker): void {
  new Gauge({
    name: "robustmq_kafka_log_bytes",
    help: "Bytes of the Kafka topics' partition logs",
    registers: [registry],
    collect() {
      this.set(kafkaLogTotals(kafka).bytes);
    },
  });
  new Gauge({
    name: "robustmq_kafka_log_segments",
    help: "Segment files of the Kafka topics' partition logs",
    registers: [registry],
    collect() {
      this.set(kafkaLogTotals(kafka).segments);
    },
  });
}

/** The MQTT <-> Kafka bridge's counters, by direction; 0 for a direction without rules. */
function registerBridge(registry: Registry, bridge: Bridge): void {
  const { toKafka, toMqtt } = bridge;
  labelledCounter(
    registry,
    "robustmq_bridge_messages_total",
    "Messages the bridge forwarded, by direction",
    "direction",
    () => [
      ["mqtt_to_kafka", toKafka?.forwarded ?? 0],
      ["kafka_to_mqtt", toMqtt?.published ?? 0],
    ],
  );
  labelledCounter(
    registry,
    "robustmq_bridge_errors_total",
    "Bridge failures, by direction: Kafka appends that failed, Kafka reads that failed",
    "direction",
    () => [
      ["mqtt_to_kafka", toKafka?.failed ?? 0],
      ["kafka_to_mqtt", toMqtt?.failed ?? 0],
    ],
  );
  new Counter({
    name: "robustmq_bridge_skipped_total",
    help:
      "Kafka records, batches or headers not published to MQTT (no valid topic, record not " +
      "publishable, undecodable batch, header an MQTT string cannot carry)",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(toMqtt?.skipped ?? 0);
    },
  });
}
