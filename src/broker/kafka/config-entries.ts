/**
 * What DescribeConfigs reports: each topic config this broker supports with the value in
 * force (the topic's own, else the default the node applies) and the node's broker-level
 * settings under Kafka's names. Pure: built once from the configuration at start.
 *
 * A topic's own configs (set at CreateTopics, AlterConfigs, IncrementalAlterConfigs) are
 * Kafka's dynamic topic configs; the broker's settings come from robustmq.toml and are
 * reported read-only (none can be altered through the Kafka protocol).
 */
import type { Config } from "../../config/schema.ts";
import { assert } from "../../errors.ts";
import { DEFAULT_LOG_OPTIONS } from "../../storage/log/index.ts";
import { SUPPORTED_TOPIC_CONFIGS } from "./topic-configs.ts";

/** Kafka's ConfigResource.Type codes. */
export const ResourceType = { TOPIC: 2, BROKER: 4 } as const;

/** Kafka's DescribeConfigsResponse.ConfigSource codes. */
export const ConfigSource = {
  DYNAMIC_TOPIC_CONFIG: 1,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
} as const;

/** Kafka's ConfigDef.Type codes, as DescribeConfigs v3+ reports them. */
export const ConfigType = { BOOLEAN: 1, STRING: 2, INT: 3, LONG: 5, DOUBLE: 6, LIST: 7 } as const;

export interface ConfigEntry {
  readonly name: string;
  readonly value: string;
  readonly source: number;
  readonly type: number;
}

export interface ConfigEntries {
  readonly broker: readonly ConfigEntry[];
  /** The value a topic config has when the topic does not set it, by topic config name. */
  readonly topicDefaults: ReadonlyMap<string, ConfigEntry>;
}

const LONG_MAX = "9223372036854775807";
const TOPIC_TYPES: Readonly<Record<string, number>> = {
  "retention.ms": ConfigType.LONG,
  "retention.bytes": ConfigType.LONG,
  "segment.bytes": ConfigType.INT,
  "segment.ms": ConfigType.LONG,
  "max.message.bytes": ConfigType.INT,
  "cleanup.policy": ConfigType.LIST,
  "delete.retention.ms": ConfigType.LONG,
  "min.compaction.lag.ms": ConfigType.LONG,
  "flush.messages": ConfigType.LONG,
  "flush.ms": ConfigType.LONG,
  "min.cleanable.dirty.ratio": ConfigType.DOUBLE,
};

export function configEntries(config: Config): ConfigEntries {
  const kafka = config.kafka;
  const staticEntry = (name: string, value: string | number | boolean, type: number) => ({
    name,
    value: String(value),
    source: ConfigSource.STATIC_BROKER_CONFIG,
    type,
  });
  const builtIn = (name: string, value: string | number, type: number) => ({
    name,
    value: String(value),
    source: ConfigSource.DEFAULT_CONFIG,
    type,
  });
  // Kafka's flush.* express the fsync policy: every message, every interval, or never.
  const flushMessages = kafka.fsync_policy === "always" ? "1" : LONG_MAX;
  const flushMs = kafka.fsync_policy === "interval" ? String(kafka.fsync_interval_ms) : LONG_MAX;
  const topicDefaults = new Map<string, ConfigEntry>([
    ["retention.ms", staticEntry("retention.ms", kafka.retention_ms, ConfigType.LONG)],
    ["retention.bytes", staticEntry("retention.bytes", kafka.retention_bytes, ConfigType.LONG)],
    ["segment.bytes", staticEntry("segment.bytes", kafka.segment_bytes, ConfigType.INT)],
    ["segment.ms", builtIn("segment.ms", DEFAULT_LOG_OPTIONS.segment_ms, ConfigType.LONG)],
    [
      "max.message.bytes",
      staticEntry(
        "max.message.bytes",
        Math.min(kafka.message_max_bytes, kafka.segment_bytes),
        ConfigType.INT,
      ),
    ],
    ["cleanup.policy", builtIn("cleanup.policy", "delete", ConfigType.LIST)],
    [
      "delete.retention.ms",
      builtIn("delete.retention.ms", DEFAULT_LOG_OPTIONS.delete_retention_ms, ConfigType.LONG),
    ],
    [
      "min.compaction.lag.ms",
      builtIn("min.compaction.lag.ms", DEFAULT_LOG_OPTIONS.min_compaction_lag_ms, ConfigType.LONG),
    ],
    ["flush.messages", staticEntry("flush.messages", flushMessages, ConfigType.LONG)],
    ["flush.ms", staticEntry("flush.ms", flushMs, ConfigType.LONG)],
    [
      "min.cleanable.dirty.ratio",
      builtIn(
        "min.cleanable.dirty.ratio",
        DEFAULT_LOG_OPTIONS.min_cleanable_dirty_ratio,
        ConfigType.DOUBLE,
      ),
    ],
  ]);
  const broker: ConfigEntry[] = [
    staticEntry("broker.id", config.broker_id, ConfigType.INT),
    staticEntry("auto.create.topics.enable", kafka.auto_create_topics, ConfigType.BOOLEAN),
    staticEntry("num.partitions", kafka.default_partitions, ConfigType.INT),
    staticEntry("message.max.bytes", kafka.message_max_bytes, ConfigType.INT),
    staticEntry("socket.request.max.bytes", kafka.max_request_bytes, ConfigType.INT),
    staticEntry("max.connections", kafka.max_connections, ConfigType.INT),
    staticEntry("log.retention.ms", kafka.retention_ms, ConfigType.LONG),
    staticEntry("log.retention.bytes", kafka.retention_bytes, ConfigType.LONG),
    staticEntry("log.segment.bytes", kafka.segment_bytes, ConfigType.INT),
    staticEntry("log.flush.interval.messages", flushMessages, ConfigType.LONG),
    staticEntry("log.flush.interval.ms", flushMs, ConfigType.LONG),
    staticEntry("group.min.session.timeout.ms", kafka.group_min_session_timeout_ms, ConfigType.INT),
    staticEntry("group.max.session.timeout.ms", kafka.group_max_session_timeout_ms, ConfigType.INT),
    staticEntry(
      "group.initial.rebalance.delay.ms",
      kafka.group_initial_rebalance_delay_ms,
      ConfigType.INT,
    ),
    staticEntry(
      "offsets.retention.minutes",
      Math.floor(kafka.offsets_retention_ms / 60_000),
      ConfigType.INT,
    ),
    staticEntry(
      "offsets.retention.check.interval.ms",
      kafka.offsets_retention_check_interval_ms,
      ConfigType.LONG,
    ),
    staticEntry("sasl.enabled.mechanisms", kafka.sasl_mechanisms.join(","), ConfigType.LIST),
    builtIn("default.replication.factor", 1, ConfigType.INT),
    builtIn("min.insync.replicas", 1, ConfigType.INT),
  ];
  for (const name of SUPPORTED_TOPIC_CONFIGS) {
    assert(topicDefaults.has(name) && TOPIC_TYPES[name] !== undefined, `${name} has a default`);
  }
  return { broker, topicDefaults };
}

/** A topic's entries: its own settings (dynamic topic configs), else the defaults. */
export function topicEntries(
  entries: ConfigEntries,
  configs: Readonly<Record<string, string>>,
): ConfigEntry[] {
  // A topic's own flush.* replace the node's fsync policy altogether (topic-configs.ts
  // fsyncPolicyOf): the one it leaves unset is then Kafka's default, never.
  const ownFlush = configs["flush.messages"] !== undefined || configs["flush.ms"] !== undefined;
  return SUPPORTED_TOPIC_CONFIGS.map((name) => {
    const own = configs[name];
    const fallback = entries.topicDefaults.get(name);
    const type = TOPIC_TYPES[name] ?? ConfigType.STRING;
    if (own !== undefined) {
      return { name, value: own, source: ConfigSource.DYNAMIC_TOPIC_CONFIG, type };
    }
    if (ownFlush && (name === "flush.messages" || name === "flush.ms")) {
      return { name, value: LONG_MAX, source: ConfigSource.DEFAULT_CONFIG, type };
    }
    const segmentBytes = configs["segment.bytes"];
    if (name === "max.message.bytes" && fallback !== undefined && segmentBytes !== undefined) {
      // A batch must fit a segment (logOptionsFor): the topic's own segment.bytes caps it too.
      const value = String(Math.min(Number(fallback.value), Number(segmentBytes)));
      return { ...fallback, value };
    }
    return fallback ?? { name, value: "", source: ConfigSource.DEFAULT_CONFIG, type };
  });
}
