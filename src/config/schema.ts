/**
 * The configuration schema: one TOML file, validated here. Key names follow the original
 * RobustMQ where it has one, so its users feel at home; units sit in the docs
 * (docs/configuration.md), and a test keeps every key below documented there.
 *
 * Every object is strict: an unknown key is an error, because a misspelt key that is silently
 * ignored leaves the operator running on a default they believe they changed.
 */
import { isIP } from "node:net";
import { z } from "zod";
import { topicTemplateProblem } from "../bridge/record-message.ts";
import {
  KAFKA_SASL_MECHANISMS,
  kafkaAllowsAnonymous,
  offeredMechanisms,
} from "../broker/kafka/sasl/mechanisms.ts";
import { topicNameProblem } from "../broker/kafka/topic-names.ts";
import { EXCLUSIVE_PREFIX, QUEUE_PREFIX, SHARE_PREFIX } from "../broker/mqtt/filter-prefixes.ts";
import { mqttLogBatchBytesMax } from "../broker/mqtt/persistence/batch-limits.ts";
import { CONFIG_RULES_MAX } from "../broker/mqtt/rules/limits.ts";
import {
  AutoSubscribeRuleSpecSchema,
  RewriteRuleSpecSchema,
} from "../broker/mqtt/rules/rule-schema.ts";
import { SLOW_SUBS_TOP_K_MAX } from "../broker/mqtt/slow-subs.ts";
import { validateTopicFilter } from "../broker/mqtt/topic.ts";
import { KafkaAclRuleSchema } from "../security/acl/kafka-acl.ts";
import { AclRuleSpecSchema } from "../security/acl/rule-schema.ts";
import { AUTHENTICATOR_NAMES } from "../security/types.ts";
import { FSYNC_POLICIES } from "../storage/log/options.ts";
import { DELAYED_DELAY_S_MAX } from "./limits.ts";

/** What a key accepts, phrased to follow "must be ..." in an error message. */
export interface KeyDoc {
  readonly allowed: string;
}

/**
 * Each key's schema registers its KeyDoc here, so error messages say what is allowed in words an
 * operator reads ("an integer from 0 to 65535") rather than zod's generic text.
 */
export const keyDocs = z.registry<KeyDoc>();

const UINT16_MAX = 65_535;
const UINT32_MAX = 4_294_967_295;
/** MQTT's largest packet: a 268,435,455-byte Remaining Length plus a 5-byte fixed header. */
const MQTT_PACKET_SIZE_BYTES_MAX = 268_435_460;
/** Below this a CONNECT with a few properties no longer fits, so smaller limits are mistakes. */
const MQTT_PACKET_SIZE_BYTES_MIN = 64;

export const ROLES = ["meta", "broker", "engine"] as const;
export type Role = (typeof ROLES)[number];
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ["auto", "json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const QUEUE_DROP_POLICIES = ["drop_new", "drop_oldest"] as const;
export const SHARED_SUBSCRIPTION_STRATEGIES = ["round_robin", "random", "hash_clientid"] as const;

export function quoteAll(values: readonly unknown[]): string {
  return values.map((v) => (typeof v === "string" ? JSON.stringify(v) : String(v))).join(", ");
}

function intRange(min: number, max: number, note = "") {
  return z
    .int()
    .min(min)
    .max(max)
    .register(keyDocs, { allowed: `an integer from ${min} to ${max}${note}` });
}

function intAtLeast(min: number, note = "") {
  return z
    .int()
    .min(min)
    .register(keyDocs, { allowed: `an integer >= ${min}${note}` });
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values).register(keyDocs, { allowed: `one of ${quoteAll(values)}` });
}

function flag() {
  return z.boolean().register(keyDocs, { allowed: "true or false" });
}

function nonEmptyString(allowed: string) {
  return z.string().min(1).register(keyDocs, { allowed });
}

function port() {
  return intRange(0, UINT16_MAX, " (0 picks a free port)");
}

/** A host name per RFC 1123: dot-separated labels of letters, digits and inner hyphens. */
const HOST_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const HOST_NAME_PATTERN = new RegExp(`^(?=.{1,253}$)${HOST_LABEL}(?:\\.${HOST_LABEL})*$`);

function bindAddress() {
  return z
    .string()
    .refine((v) => isIP(v) !== 0 || HOST_NAME_PATTERN.test(v))
    .register(keyDocs, { allowed: 'an IP address (such as "0.0.0.0" or "::") or a host name' });
}

function roleList() {
  return z
    .array(z.enum(ROLES))
    .min(1)
    .refine((roles) => new Set(roles).size === roles.length)
    .register(keyDocs, {
      allowed: `a non-empty list of distinct roles from ${quoteAll(ROLES)}`,
    });
}

export const NetworkSchema = z.strictObject({
  bind_address: bindAddress().default("0.0.0.0"),
  tcp_port: port().default(1883),
});

export const MqttProtocolConfigSchema = z.strictObject({
  max_session_expiry_interval: intRange(0, UINT32_MAX, " (seconds)").default(604_800),
  topic_alias_max: intRange(0, UINT16_MAX).default(UINT16_MAX),
  max_qos: z.literal([0, 1, 2]).register(keyDocs, { allowed: "one of 0, 1, 2" }).default(2),
  max_packet_size: intRange(
    MQTT_PACKET_SIZE_BYTES_MIN,
    MQTT_PACKET_SIZE_BYTES_MAX,
    " (bytes)",
  ).default(10_485_760),
  receive_max: intRange(1, UINT16_MAX).default(UINT16_MAX),
  max_message_expiry_interval: intRange(0, UINT32_MAX, " (seconds, 0 = no cap)").default(0),
  max_keep_alive: intRange(0, UINT16_MAX, " (seconds, 0 = no cap)").default(0),
  retain_available: flag().default(true),
  wildcard_subscription_available: flag().default(true),
  shared_subscription_available: flag().default(true),
  subscription_identifier_available: flag().default(true),
});

export const MqttLimitsSchema = z.strictObject({
  max_connections: intAtLeast(1).default(10_000),
  connect_timeout_ms: intAtLeast(100, " (milliseconds)").default(10_000),
  max_client_id_length: intRange(1, UINT16_MAX).default(256),
  max_inflight_messages: intRange(1, UINT16_MAX).default(128),
  max_queued_messages: intAtLeast(0).default(1000),
  queue_drop_policy: oneOf(QUEUE_DROP_POLICIES).default("drop_oldest"),
  max_subscriptions_per_client: intAtLeast(0, " (0 = unlimited)").default(0),
  max_topic_levels: intRange(1, 1024).default(128),
  max_topic_alias_bytes: intRange(65_536, 2_147_483_647, " (bytes)").default(1_048_576),
  max_write_buffer_bytes: intAtLeast(65_536, " (bytes)").default(8_388_608),
  shared_subscription_strategy: oneOf(SHARED_SUBSCRIPTION_STRATEGIES).default("round_robin"),
  max_retained_messages: intAtLeast(0, " (0 = unlimited)").default(0),
  max_retained_payload_bytes: intAtLeast(0, " (bytes, 0 = unlimited)").default(0),
  max_connection_rate: intAtLeast(0, " (connections per second, 0 = unlimited)").default(0),
  max_message_rate: intAtLeast(
    0,
    " (PUBLISH packets per second per client, 0 = unlimited)",
  ).default(0),
  max_bytes_rate: intAtLeast(0, " (bytes per second per client, 0 = unlimited)").default(0),
});

/** Durable MQTT: the message log and session checkpoints under data_dir/mqtt (docs/storage.md). */
export const MqttPersistenceSchema = z.strictObject({
  enable: flag().default(true),
  fsync_policy: oneOf(FSYNC_POLICIES).default("always"),
  fsync_interval_ms: intRange(1, 3_600_000, " (milliseconds)").default(1000),
  segment_bytes: intRange(1_048_576, 2_147_483_647, " (bytes)").default(1_073_741_824),
  checkpoint_interval_ms: intRange(100, 3_600_000, " (milliseconds)").default(5000),
});

/** Filter prefixes that make a subscription special (filter-prefixes.ts). */
const SUBSCRIPTION_PREFIXES = [SHARE_PREFIX, QUEUE_PREFIX, EXCLUSIVE_PREFIX];

/** A Kafka topic name, refused with the reason the Kafka listener gives (CreateTopics). */
const kafkaTopicName = z.string().superRefine((name, ctx) => {
  const problem = topicNameProblem(name);
  if (problem !== null) ctx.addIssue({ code: "custom", message: problem });
});

const MqttToKafkaRuleSchema = z.strictObject({
  mqtt_filter: z
    .string()
    .refine(validateTopicFilter, "not a valid MQTT topic filter")
    // Rules match topic names; subscription prefixes would only match topics named so.
    .refine(
      (f) => !SUBSCRIPTION_PREFIXES.some((prefix) => f.startsWith(prefix)),
      "a bridge filter is matched against topic names: no $share/, $queue/ or $exclusive/",
    ),
  kafka_topic: kafkaTopicName,
});

const KafkaToMqttRuleSchema = z.strictObject({
  kafka_topic: kafkaTopicName,
  mqtt_topic: z.string().superRefine((template, ctx) => {
    const problem = topicTemplateProblem(template);
    if (problem !== null) ctx.addIssue({ code: "custom", message: problem });
  }),
  qos: z.literal([0, 1, 2]).default(1),
  retain: z.boolean().default(false),
});

/** MQTT <-> Kafka bridge rules (src/bridge/). */
export const BridgeSchema = z.strictObject({
  mqtt_to_kafka: z
    .array(MqttToKafkaRuleSchema)
    .register(keyDocs, {
      allowed:
        "a list of tables, each with mqtt_filter (an MQTT topic filter) and kafka_topic (a Kafka topic name: letters, digits, '.', '_', '-')",
    })
    .default([]),
  kafka_to_mqtt: z
    .array(KafkaToMqttRuleSchema)
    .register(keyDocs, {
      allowed:
        "a list of tables, each with kafka_topic (a Kafka topic name), mqtt_topic (a topic template without wildcards), optional qos (0, 1 or 2) and retain (true or false)",
    })
    .default([]),
});

/** `$SYS/brokers/<broker_id>/...` topics (src/broker/mqtt/sys-topics.ts). */
export const MqttSysSchema = z.strictObject({
  enable: flag().default(true),
  interval_ms: intRange(0, 3_600_000, " (milliseconds, 0 = client events only)").default(10_000),
  client_events: flag().default(true),
});

export const LogSchema = z.strictObject({
  level: oneOf(LOG_LEVELS).default("info"),
  format: oneOf(LOG_FORMATS).default("auto"),
});

/** Admin HTTP API: who may log in, how long a login lasts, whether /metrics needs a token. */
export const AdminSchema = z.strictObject({
  username: nonEmptyString("a non-empty string").default("admin"),
  password: z
    .string()
    .register(keyDocs, {
      allowed: 'a string ("" = generate one at first start, stored hashed under data_dir)',
    })
    .default(""),
  token_ttl_s: intRange(60, 31_536_000, " (seconds)").default(3600),
  metrics_auth: flag().default(false),
});

const SESSION_TIMEOUT_MS_MAX = 3_600_000;

/** The Kafka listener (docs/kafka.md): topics are partition logs under data_dir/kafka. */
export const KafkaSchema = z
  .strictObject({
    enable: flag().default(true),
    port: port().default(9092),
    advertised_host: z
      .string()
      .refine((v) => v === "" || isIP(v) !== 0 || HOST_NAME_PATTERN.test(v))
      .register(keyDocs, {
        allowed: 'an IP address, a host name, or "" (the address the client connected to)',
      })
      .default(""),
    advertised_port: intRange(0, UINT16_MAX, " (0 = the listening port)").default(0),
    max_connections: intAtLeast(1).default(10_000),
    max_request_bytes: intRange(1024, 2_147_483_647, " (bytes)").default(104_857_600),
    auto_create_topics: flag().default(true),
    default_partitions: intRange(1, 10_000).default(1),
    message_max_bytes: intRange(1024, 8_388_608, " (bytes)").default(1_048_588),
    fsync_policy: oneOf(FSYNC_POLICIES).default("always"),
    fsync_interval_ms: intRange(1, 3_600_000, " (milliseconds)").default(1000),
    segment_bytes: intRange(1_048_576, 2_147_483_647, " (bytes)").default(1_073_741_824),
    retention_ms: intAtLeast(-1, " (milliseconds, -1 = keep forever)").default(604_800_000),
    retention_bytes: intAtLeast(-1, " (bytes per partition, -1 = no limit)").default(-1),
    group_min_session_timeout_ms: intRange(
      1,
      3_600_000,
      " (milliseconds), at most group_max_session_timeout_ms",
    ).default(6000),
    group_max_session_timeout_ms: intRange(1, SESSION_TIMEOUT_MS_MAX, " (milliseconds)").default(
      1_800_000,
    ),
    group_initial_rebalance_delay_ms: intRange(0, 300_000, " (milliseconds)").default(3000),
    offsets_retention_ms: intRange(1000, 31_536_000_000, " (milliseconds)").default(604_800_000),
    offsets_retention_check_interval_ms: intRange(100, 86_400_000, " (milliseconds)").default(
      600_000,
    ),
    tls: flag().default(false),
    zero_copy: flag().default(true),
    allow_anonymous: z
      .union([z.boolean(), z.literal("auto")])
      .register(keyDocs, {
        allowed:
          'true, false or "auto" (as the MQTT listeners: true unless an authenticator is configured)',
      })
      .default("auto"),
    sasl_mechanisms: z
      .array(z.enum(KAFKA_SASL_MECHANISMS))
      .refine((names) => new Set(names).size === names.length)
      .register(keyDocs, {
        allowed: `a list of distinct names from ${quoteAll(KAFKA_SASL_MECHANISMS)}`,
      })
      .default([...KAFKA_SASL_MECHANISMS]),
    auth_timeout_ms: intRange(100, 3_600_000, " (milliseconds)").default(10_000),
    // Node's timers take at most 2^31 - 1 ms (24.8 days).
    connections_max_idle_ms: intRange(100, 2_147_483_647, " (milliseconds)").default(600_000),
  })
  // min > max would refuse every JoinGroup, whatever session timeout a consumer asks for.
  .superRefine((kafka, ctx) => {
    const min = kafka.group_min_session_timeout_ms;
    const max = kafka.group_max_session_timeout_ms;
    // A maximum that is itself invalid is reported on its own key, once.
    if (!(max >= 1 && max <= SESSION_TIMEOUT_MS_MAX) || min <= max) return;
    const path = ["group_min_session_timeout_ms"];
    ctx.addIssue({ code: "custom", path, input: min, message: "above the maximum" });
  });

export const TLS_VERSIONS = ["TLSv1.2", "TLSv1.3"] as const;
export const PEER_CERT_USERNAME_SOURCES = ["cn", "san", "none"] as const;

/** Certificates of the TLS listeners ([mqtt_tls], [mqtt_wss], [kafka] tls); docs/transports.md. */
export const TlsSchema = z.strictObject({
  cert_file: z
    .string()
    .register(keyDocs, { allowed: 'a file path ("" = none; needed by an enabled TLS listener)' })
    .default(""),
  key_file: z
    .string()
    .register(keyDocs, { allowed: 'a file path ("" = none; needed by an enabled TLS listener)' })
    .default(""),
  ca_file: z
    .string()
    .register(keyDocs, { allowed: 'a file path ("" = none; needed by verify_client = true)' })
    .default(""),
  min_version: oneOf(TLS_VERSIONS).default("TLSv1.2"),
  ciphers: z
    .string()
    .register(keyDocs, { allowed: 'an OpenSSL cipher list ("" = Node.js\'s default list)' })
    .default(""),
  verify_client: flag().default(false),
  peer_cert_as_username: oneOf(PEER_CERT_USERNAME_SOURCES).default("cn"),
  handshake_timeout_ms: intRange(100, 3_600_000, " (milliseconds)").default(10_000),
});

/** MQTT over TLS ("mqtts"); off until configured, since it needs a certificate. */
export const MqttTlsSchema = z.strictObject({
  enable: flag().default(false),
  port: port().default(8883),
});

function wsPath() {
  return z
    .string()
    .regex(/^\/[!-~]*$/)
    .refine((v) => !v.includes("?") && !v.includes("#"))
    .register(keyDocs, { allowed: 'a URL path starting with "/" (no spaces, "?" or "#")' });
}

/** MQTT over WebSocket. */
export const MqttWsSchema = z.strictObject({
  enable: flag().default(true),
  port: port().default(8083),
  path: wsPath().default("/mqtt"),
});

/** MQTT over secure WebSocket; off until configured, since it needs a certificate. */
export const MqttWssSchema = z.strictObject({
  enable: flag().default(false),
  port: port().default(8084),
  path: wsPath().default("/mqtt"),
});

/** PROXY protocol v1/v2 in front of the TCP and TLS listeners (behind a load balancer). */
export const ProxyProtocolSchema = z.strictObject({
  tcp: flag().default(false),
  tls: flag().default(false),
  timeout_ms: intRange(100, 600_000, " (milliseconds)").default(3000),
});

/** Authentication (docs/security.md): which authenticators run, in order, and anonymous access. */
export const MqttAuthSchema = z.strictObject({
  allow_anonymous: z
    .union([z.boolean(), z.literal("auto")])
    .register(keyDocs, {
      allowed: 'true, false or "auto" (true unless an authenticator is configured)',
    })
    .default("auto"),
  authenticators: z
    .array(z.enum(AUTHENTICATOR_NAMES))
    .refine((names) => new Set(names).size === names.length)
    .register(keyDocs, {
      allowed: `a list of distinct names from ${quoteAll(AUTHENTICATOR_NAMES)}, tried in order`,
    })
    .default([]),
});

export const JWT_TOKEN_SOURCES = ["password", "username"] as const;

/** JWT authentication: a token in the password (or user name) field, checked with jose. */
export const MqttAuthJwtSchema = z.strictObject({
  secret: z.string().register(keyDocs, { allowed: 'an HMAC secret ("" = none)' }).default(""),
  secret_base64: flag().default(false),
  public_key_file: z
    .string()
    .register(keyDocs, { allowed: 'a PEM file with an RSA or EC public key ("" = none)' })
    .default(""),
  jwks_file: z
    .string()
    .register(keyDocs, { allowed: 'a JSON Web Key Set file ("" = none)' })
    .default(""),
  from: oneOf(JWT_TOKEN_SOURCES).default("password"),
  verify_client_id: flag().default(false),
  client_id_claim: nonEmptyString("a claim name").default("clientid"),
  verify_username: flag().default(false),
  username_claim: nonEmptyString("a claim name").default("username"),
  superuser_claim: nonEmptyString("a claim name").default("is_superuser"),
  clock_tolerance_s: intRange(0, 3600, " (seconds)").default(0),
});

/** HTTP authentication: a callout to an external service, with a timeout and a cache. */
export const MqttAuthHttpSchema = z.strictObject({
  url: z
    .string()
    .refine((v) => v === "" || /^https?:\/\/[^\s]+$/.test(v))
    .register(keyDocs, { allowed: 'an http:// or https:// URL ("" = none)' })
    .default(""),
  authorization: z
    .string()
    .register(keyDocs, { allowed: 'an Authorization header value sent with each call ("" = none)' })
    .default(""),
  timeout_ms: intRange(10, 60_000, " (milliseconds)").default(5000),
  cache_ttl_ms: intRange(0, 86_400_000, " (milliseconds, 0 = no cache)").default(60_000),
  cache_max_entries: intRange(1, 10_000_000).default(10_000),
});

export const ACL_NO_MATCH = ["allow", "deny"] as const;

/** Authorization: ordered allow/deny rules, then the no-match policy (docs/security.md). */
export const MqttAclSchema = z.strictObject({
  no_match: oneOf(ACL_NO_MATCH).default("allow"),
  rules: z
    .array(AclRuleSpecSchema)
    .register(keyDocs, {
      allowed:
        'a list of tables, each with permission ("allow"/"deny"), action ("publish"/"subscribe"/"all"), topic (a filter, may hold %u and %c), optional username, client_id and ip (address or CIDR)',
    })
    .default([]),
  cache_max_topics: intRange(0, 100_000, " (per client, 0 = no cache)").default(64),
});

/** Which Kafka clients may read, write and administer which topics and groups (docs/kafka.md). */
export const KafkaAclSchema = z.strictObject({
  no_match: oneOf(ACL_NO_MATCH).default("allow"),
  rules: z
    .array(KafkaAclRuleSchema)
    .register(keyDocs, {
      allowed:
        'a list of tables, each with permission ("allow"/"deny"), action ("read"/"write"/"admin"/"all"), topic or group (a name, a prefix ending in "*", or "*") and optional username',
    })
    .default([]),
});

/** Bans a client id that disconnects too often (docs/security.md). */
export const MqttFlappingSchema = z.strictObject({
  enable: flag().default(false),
  max_disconnects: intRange(2, 1_000_000).default(15),
  window_s: intRange(1, 86_400, " (seconds)").default(60),
  ban_s: intRange(1, 31_536_000, " (seconds)").default(300),
});

/** Slow-subscription statistics; off by default (a clock read per ack). */
export const MqttSlowSubsSchema = z.strictObject({
  enable: flag().default(false),
  threshold_ms: intRange(1, 3_600_000, " (milliseconds)").default(500),
  top_k: intRange(1, SLOW_SUBS_TOP_K_MAX).default(10),
  expire_s: intRange(1, 86_400, " (seconds)").default(300),
});

/** A share in (0, 1]: a memory watermark (of total memory) or a CPU one (of one core). */
function fraction(allowed: string) {
  return z.number().gt(0).lte(1).register(keyDocs, { allowed });
}

/** System alarms (src/broker/mqtt/alarms.ts): each low watermark clears below its high one. */
export const MqttAlarmsSchema = z
  .strictObject({
    enable: flag().default(true),
    check_interval_ms: intRange(100, 3_600_000, " (milliseconds)").default(10_000),
    memory_high_watermark: fraction("a number above 0 and at most 1").default(0.8),
    memory_low_watermark: fraction(
      "a number above 0 and at most 1, below memory_high_watermark",
    ).default(0.7),
    cpu_high_watermark: fraction("a number above 0 and at most 1").default(0.8),
    cpu_low_watermark: fraction("a number above 0 and at most 1, below cpu_high_watermark").default(
      0.6,
    ),
  })
  .superRefine((alarms, ctx) => {
    for (const kind of ["memory", "cpu"] as const) {
      const low = alarms[`${kind}_low_watermark`];
      const high = alarms[`${kind}_high_watermark`];
      // A high watermark that is itself invalid is reported on its own key, once.
      if (!(high > 0 && high <= 1) || low < high) continue;
      const path = [`${kind}_low_watermark`];
      ctx.addIssue({ code: "custom", path, input: low, message: `below ${kind}_high_watermark` });
    }
  });

/** JSON text that can be a JSON Schema: an object or a boolean. */
function isSchemaText(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "boolean" || (typeof value === "object" && value !== null);
  } catch {
    return false;
  }
}

const SchemaRuleSchema = z
  .strictObject({
    topic: z.string().refine(validateTopicFilter, "not a valid MQTT topic filter"),
    schema_file: z.string().min(1).optional(),
    schema: z
      .string()
      .refine(isSchemaText, "not JSON text of a JSON Schema (an object or a boolean)")
      .optional(),
  })
  .refine((rule) => (rule.schema_file === undefined) !== (rule.schema === undefined), {
    message: "must have exactly one of schema_file and schema",
  });

/** Payload JSON Schema validation on PUBLISH (src/broker/mqtt/schema-validation.ts). */
export const MqttSchemaValidationSchema = z.strictObject({
  rules: z
    .array(SchemaRuleSchema)
    .register(keyDocs, {
      allowed:
        "a list of tables, each with topic (an MQTT topic filter) and exactly one of schema_file (a JSON Schema file) or schema (JSON Schema text)",
    })
    .default([]),
});

/** Delayed publish, `$delayed/{seconds}/{topic}` (docs/mqtt.md#delayed-publish). */
export const MqttDelayedSchema = z.strictObject({
  enable: flag().default(true),
  max_delay_s: intRange(1, DELAYED_DELAY_S_MAX, " (seconds)").default(DELAYED_DELAY_S_MAX),
  max_messages: intRange(1, 100_000_000).default(100_000),
});

/** `$exclusive/` and `$queue/` subscriptions (docs/mqtt.md#queue-and-exclusive-subscriptions). */
export const MqttSubscriptionsSchema = z.strictObject({
  exclusive_enable: flag().default(true),
  queue_enable: flag().default(true),
});

/** Topic rewrite rules from the config file, before those added at run time (docs/mqtt.md). */
export const MqttTopicRewriteSchema = z.strictObject({
  rules: z
    .array(RewriteRuleSpecSchema)
    .max(CONFIG_RULES_MAX)
    .register(keyDocs, {
      allowed: `a list of at most ${CONFIG_RULES_MAX} tables, each with action ("publish"/"subscribe"/"all"), source_topic (a topic filter), re (a regular expression) and dest_topic (a topic that may hold $1..$9)`,
    })
    .default([]),
});

/** Auto-subscribe rules from the config file, before those added at run time (docs/mqtt.md). */
export const MqttAutoSubscribeSchema = z.strictObject({
  rules: z
    .array(AutoSubscribeRuleSpecSchema)
    .max(CONFIG_RULES_MAX)
    .register(keyDocs, {
      allowed: `a list of at most ${CONFIG_RULES_MAX} tables, each with topic (a topic filter, may hold %u and %c), optional qos (0, 1 or 2), no_local, retain_as_published (true or false) and retain_handling (0, 1 or 2)`,
    })
    .default([]),
});

const SECTIONS = {
  network: NetworkSchema,
  mqtt_protocol_config: MqttProtocolConfigSchema,
  mqtt_limits: MqttLimitsSchema,
  mqtt_persistence: MqttPersistenceSchema,
  mqtt_sys: MqttSysSchema,
  bridge: BridgeSchema,
  log: LogSchema,
  admin: AdminSchema,
  kafka: KafkaSchema,
  kafka_acl: KafkaAclSchema,
  tls: TlsSchema,
  mqtt_tls: MqttTlsSchema,
  mqtt_ws: MqttWsSchema,
  mqtt_wss: MqttWssSchema,
  proxy_protocol: ProxyProtocolSchema,
  mqtt_auth: MqttAuthSchema,
  mqtt_auth_jwt: MqttAuthJwtSchema,
  mqtt_auth_http: MqttAuthHttpSchema,
  mqtt_acl: MqttAclSchema,
  mqtt_flapping: MqttFlappingSchema,
  mqtt_slow_subs: MqttSlowSubsSchema,
  mqtt_alarms: MqttAlarmsSchema,
  mqtt_schema_validation: MqttSchemaValidationSchema,
  mqtt_delayed: MqttDelayedSchema,
  mqtt_subscriptions: MqttSubscriptionsSchema,
  mqtt_topic_rewrite: MqttTopicRewriteSchema,
  mqtt_auto_subscribe: MqttAutoSubscribeSchema,
} as const;
for (const [name, schema] of Object.entries(SECTIONS)) {
  keyDocs.add(schema, { allowed: `a table (a [${name}] section)` });
}

// A section may be left out or written empty: `prefault` runs `{}` through it so its defaults
// apply (`default` would return `{}` itself, unvalidated and without the inner defaults).
const ConfigObjectSchema = z.strictObject({
  cluster_name: nonEmptyString("a non-empty string").default("robustmq"),
  broker_id: intAtLeast(0).default(1),
  roles: roleList().default(["meta", "broker", "engine"]),
  data_dir: nonEmptyString("a non-empty directory path").default("./data"),
  http_port: port().default(58_080),
  grpc_port: port().default(1228),
  network: NetworkSchema.prefault({}),
  mqtt_protocol_config: MqttProtocolConfigSchema.prefault({}),
  mqtt_limits: MqttLimitsSchema.prefault({}),
  mqtt_persistence: MqttPersistenceSchema.prefault({}),
  mqtt_sys: MqttSysSchema.prefault({}),
  bridge: BridgeSchema.prefault({}),
  log: LogSchema.prefault({}),
  admin: AdminSchema.prefault({}),
  kafka: KafkaSchema.prefault({}),
  kafka_acl: KafkaAclSchema.prefault({}),
  tls: TlsSchema.prefault({}),
  mqtt_tls: MqttTlsSchema.prefault({}),
  mqtt_ws: MqttWsSchema.prefault({}),
  mqtt_wss: MqttWssSchema.prefault({}),
  proxy_protocol: ProxyProtocolSchema.prefault({}),
  mqtt_auth: MqttAuthSchema.prefault({}),
  mqtt_auth_jwt: MqttAuthJwtSchema.prefault({}),
  mqtt_auth_http: MqttAuthHttpSchema.prefault({}),
  mqtt_acl: MqttAclSchema.prefault({}),
  mqtt_flapping: MqttFlappingSchema.prefault({}),
  mqtt_slow_subs: MqttSlowSubsSchema.prefault({}),
  mqtt_alarms: MqttAlarmsSchema.prefault({}),
  mqtt_schema_validation: MqttSchemaValidationSchema.prefault({}),
  mqtt_delayed: MqttDelayedSchema.prefault({}),
  mqtt_subscriptions: MqttSubscriptionsSchema.prefault({}),
  mqtt_topic_rewrite: MqttTopicRewriteSchema.prefault({}),
  mqtt_auto_subscribe: MqttAutoSubscribeSchema.prefault({}),
});

export const ConfigSchema = ConfigObjectSchema.superRefine(crossSectionChecks);

/** The validated configuration, keys exactly as written in TOML. */
export type Config = z.output<typeof ConfigSchema>;

/**
 * Marks an issue whose message is the whole explanation: a rule between keys, which the
 * key's own "must be ..." text does not describe.
 */
export const CROSS_SECTION = "crossSection";

type ParsedConfig = z.output<typeof ConfigObjectSchema>;
type Ctx = z.core.$RefinementCtx<ParsedConfig>;

function crossIssue(ctx: Ctx, path: string[], input: unknown, message: string): void {
  ctx.addIssue({ code: "custom", path, input, message, params: { [CROSS_SECTION]: true } });
}

/**
 * Rules that span sections. They are checked here, with the rest of the file, rather than
 * when the part that needs them starts: a mistake is then reported with the others, before
 * anything is created on disk.
 */
function crossSectionChecks(config: ParsedConfig, ctx: Ctx): void {
  checkAuthenticators(config, ctx);
  checkBridge(config, ctx);
  checkTlsListeners(config, ctx);
  checkKafkaAuthentication(config, ctx);
  checkMqttLogSegment(config, ctx);
}

/** Every message the broker accepts must fit one segment of the MQTT message log. */
function checkMqttLogSegment(config: ParsedConfig, ctx: Ctx): void {
  const persistence = config.mqtt_persistence;
  const needed = mqttLogBatchBytesMax(config.mqtt_protocol_config.max_packet_size);
  if (!persistence.enable || persistence.segment_bytes >= needed) return;
  const message = `must be at least ${needed}: a message of mqtt_protocol_config.max_packet_size (and its record) must fit one segment`;
  crossIssue(ctx, ["mqtt_persistence", "segment_bytes"], persistence.segment_bytes, message);
}

function checkAuthenticators(config: ParsedConfig, ctx: Ctx): void {
  const names = config.mqtt_auth.authenticators;
  const jwt = config.mqtt_auth_jwt;
  if (names.includes("jwt")) {
    if (jwt.secret === "" && jwt.public_key_file === "" && jwt.jwks_file === "") {
      const message =
        'has "jwt", which needs a key in [mqtt_auth_jwt]: set secret, public_key_file or jwks_file';
      crossIssue(ctx, ["mqtt_auth", "authenticators"], names, message);
    }
    if (jwt.verify_username && jwt.from === "username") {
      const message = 'needs from = "password": with from = "username" the user name is the token';
      crossIssue(ctx, ["mqtt_auth_jwt", "verify_username"], true, message);
    }
  }
  if (names.includes("http") && config.mqtt_auth_http.url === "") {
    const message = 'must be set: mqtt_auth.authenticators has "http", which calls this URL';
    crossIssue(ctx, ["mqtt_auth_http", "url"], undefined, message);
  }
}

function checkBridge(config: ParsedConfig, ctx: Ctx): void {
  const rules = config.bridge.mqtt_to_kafka.length + config.bridge.kafka_to_mqtt.length;
  if (rules === 0 || config.kafka.enable) return;
  const message = "must be true while [bridge] has rules: the bridge needs the Kafka listener";
  crossIssue(ctx, ["kafka", "enable"], false, message);
}

/** A Kafka listener that refuses anonymous clients needs a way for them to authenticate. */
function checkKafkaAuthentication(config: ParsedConfig, ctx: Ctx): void {
  const kafka = config.kafka;
  if (!kafka.enable) return;
  const authenticators = config.mqtt_auth.authenticators;
  const mqttAnonymous = config.mqtt_auth.allow_anonymous;
  const anonymous = kafkaAllowsAnonymous(
    kafka.allow_anonymous,
    mqttAnonymous === "auto" ? authenticators.length === 0 : mqttAnonymous,
  );
  // A verified certificate authenticates only when it names a user (peer_cert_as_username).
  const tls = config.tls;
  if (anonymous || (kafka.tls && tls.verify_client && tls.peer_cert_as_username !== "none")) return;
  if (offeredMechanisms(kafka.sasl_mechanisms, authenticators).length > 0) return;
  const message =
    'offers no mechanism this node can check while Kafka clients must authenticate: PLAIN needs an authenticator in mqtt_auth.authenticators, SCRAM needs "built_in" there';
  crossIssue(ctx, ["kafka", "sasl_mechanisms"], kafka.sasl_mechanisms, message);
}

/** The listener that needs [tls], or "" for none. */
export function tlsListenerOf(config: {
  mqtt_tls: { enable: boolean };
  mqtt_wss: { enable: boolean };
  kafka: { enable: boolean; tls: boolean };
}): string {
  if (config.mqtt_tls.enable) return "[mqtt_tls]";
  if (config.mqtt_wss.enable) return "[mqtt_wss]";
  return config.kafka.enable && config.kafka.tls ? "[kafka] tls" : "";
}

function checkTlsListeners(config: ParsedConfig, ctx: Ctx): void {
  const listener = tlsListenerOf(config);
  if (listener === "") return;
  const tls = config.tls;
  for (const key of ["cert_file", "key_file"] as const) {
    if (tls[key] !== "") continue;
    const message = `must be set: ${listener} is enabled, and a TLS listener needs a certificate and its key`;
    crossIssue(ctx, ["tls", key], undefined, message);
  }
  if (tls.verify_client && tls.ca_file === "") {
    const message =
      "must be set: tls.verify_client = true needs the CA that signs client certificates";
    crossIssue(ctx, ["tls", "ca_file"], undefined, message);
  }
}
/** What a TOML file may contain: every key optional. */
export type ConfigInput = z.input<typeof ConfigSchema>;

/** Peels `.default()` / `.prefault()` wrappers off a key's schema. */
export function unwrapKeySchema(schema: z.ZodType): z.ZodType {
  let current = schema;
  while (current instanceof z.ZodDefault || current instanceof z.ZodPrefault) {
    current = current.unwrap() as z.ZodType;
  }
  return current;
}

/**
 * The schema of the key at `path` ("network", "tcp_port"), or undefined when no such key exists.
 * A number steps into a list's element (["mqtt_acl", "rules", 0, "action"]); a path that goes
 * on past a plain value stops at that value's key.
 */
export function keySchemaAt(path: readonly PropertyKey[]): z.ZodType | undefined {
  let current: z.ZodType = ConfigObjectSchema;
  for (const segment of path) {
    const outer = unwrapKeySchema(current);
    let next: z.ZodType | undefined;
    if (outer instanceof z.ZodObject && typeof segment === "string") next = outer.shape[segment];
    else if (outer instanceof z.ZodArray && typeof segment === "number") {
      next = outer.element as z.ZodType;
    } else return current;
    if (next === undefined) return undefined;
    current = next;
  }
  return current;
}

/** The KeyDoc of a key: registered on the schema inside its default wrapper. */
export function keyDocOf(schema: z.ZodType): KeyDoc | undefined {
  return keyDocs.get(unwrapKeySchema(schema)) ?? keyDocs.get(schema);
}

/** The names of the keys one level inside `path` ([] = top level); empty if `path` is no table. */
export function keysAt(path: readonly PropertyKey[]): string[] {
  const schema = keySchemaAt(path);
  const object = schema === undefined ? undefined : unwrapKeySchema(schema);
  return object instanceof z.ZodObject ? Object.keys(object.shape) : [];
}
