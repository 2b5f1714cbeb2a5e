import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { stringify } from "smol-toml";
import {
  closest,
  type DeepPartialOverrides,
  defaultConfig,
  loadConfig,
  renderValue,
} from "../../../src/config/load.ts";
import { type Config, keyDocOf, keySchemaAt, keysAt } from "../../../src/config/schema.ts";
import { ErrorCode, RobustMQError } from "../../../src/errors.ts";

const dir = mkdtempSync(join(tmpdir(), "robustmq-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
function writeToml(text: string): string {
  const file = join(dir, `config-${fileCount++}.toml`);
  writeFileSync(file, text);
  return file;
}

/** Runs `fn`, which must throw a RobustMQError with `code`; returns its message. */
function errorMessage(code: string, fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof RobustMQError, `expected RobustMQError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err.message;
  }
  assert.fail("expected an error");
}

function invalidMessage(toml: string): string {
  const file = writeToml(toml);
  return errorMessage(ErrorCode.CONFIG_INVALID, () => loadConfig({ file }));
}

/** Every key path in the schema: ["cluster_name"], ["network", "tcp_port"], ... */
function leafPaths(): string[][] {
  const paths: string[][] = [];
  for (const key of keysAt([])) {
    const inner = keysAt([key]);
    if (inner.length === 0) paths.push([key]);
    else for (const leaf of inner) paths.push([key, leaf]);
  }
  return paths;
}

const EXPECTED_DEFAULTS: Config = {
  cluster_name: "robustmq",
  broker_id: 1,
  roles: ["meta", "broker", "engine"],
  data_dir: "./data",
  http_port: 58080,
  grpc_port: 1228,
  network: { bind_address: "0.0.0.0", tcp_port: 1883 },
  mqtt_protocol_config: {
    max_session_expiry_interval: 604800,
    topic_alias_max: 65535,
    max_qos: 2,
    max_packet_size: 10485760,
    receive_max: 65535,
    max_message_expiry_interval: 0,
    max_keep_alive: 0,
    retain_available: true,
    wildcard_subscription_available: true,
    shared_subscription_available: true,
    subscription_identifier_available: true,
  },
  mqtt_limits: {
    max_connections: 10000,
    connect_timeout_ms: 10000,
    max_client_id_length: 256,
    max_inflight_messages: 128,
    max_queued_messages: 1000,
    queue_drop_policy: "drop_oldest",
    max_subscriptions_per_client: 0,
    max_topic_levels: 128,
    max_topic_alias_bytes: 1048576,
    max_write_buffer_bytes: 8388608,
    shared_subscription_strategy: "round_robin",
    max_retained_messages: 0,
    max_retained_payload_bytes: 0,
    max_connection_rate: 0,
    max_message_rate: 0,
    max_bytes_rate: 0,
  },
  mqtt_persistence: {
    enable: true,
    fsync_policy: "always",
    fsync_interval_ms: 1000,
    segment_bytes: 1073741824,
    checkpoint_interval_ms: 5000,
  },
  kafka: {
    enable: true,
    port: 9092,
    advertised_host: "",
    advertised_port: 0,
    max_connections: 10000,
    max_request_bytes: 104857600,
    auto_create_topics: true,
    default_partitions: 1,
    message_max_bytes: 1048588,
    fsync_policy: "always",
    fsync_interval_ms: 1000,
    segment_bytes: 1073741824,
    retention_ms: 604800000,
    retention_bytes: -1,
    group_min_session_timeout_ms: 6000,
    group_max_session_timeout_ms: 1800000,
    group_initial_rebalance_delay_ms: 3000,
    offsets_retention_ms: 604800000,
    offsets_retention_check_interval_ms: 600000,
    tls: false,
    zero_copy: true,
    allow_anonymous: "auto",
    sasl_mechanisms: ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"],
    auth_timeout_ms: 10000,
    connections_max_idle_ms: 600000,
  },
  kafka_acl: { no_match: "allow", rules: [] },
  mqtt_sys: { enable: true, interval_ms: 10000, client_events: true },
  bridge: { mqtt_to_kafka: [], kafka_to_mqtt: [] },
  log: { level: "info", format: "auto" },
  admin: { username: "admin", password: "", token_ttl_s: 3600, metrics_auth: false },
  tls: {
    cert_file: "",
    key_file: "",
    ca_file: "",
    min_version: "TLSv1.2",
    ciphers: "",
    verify_client: false,
    peer_cert_as_username: "cn",
    handshake_timeout_ms: 10000,
  },
  mqtt_tls: { enable: false, port: 8883 },
  mqtt_ws: { enable: true, port: 8083, path: "/mqtt" },
  mqtt_wss: { enable: false, port: 8084, path: "/mqtt" },
  proxy_protocol: { tcp: false, tls: false, timeout_ms: 3000 },
  mqtt_auth: { allow_anonymous: "auto", authenticators: [] },
  mqtt_auth_jwt: {
    secret: "",
    secret_base64: false,
    public_key_file: "",
    jwks_file: "",
    from: "password",
    verify_client_id: false,
    client_id_claim: "clientid",
    verify_username: false,
    username_claim: "username",
    superuser_claim: "is_superuser",
    clock_tolerance_s: 0,
  },
  mqtt_auth_http: {
    url: "",
    authorization: "",
    timeout_ms: 5000,
    cache_ttl_ms: 60000,
    cache_max_entries: 10000,
  },
  mqtt_acl: { no_match: "allow", rules: [], cache_max_topics: 64 },
  mqtt_flapping: { enable: false, max_disconnects: 15, window_s: 60, ban_s: 300 },
  mqtt_slow_subs: { enable: false, threshold_ms: 500, top_k: 10, expire_s: 300 },
  mqtt_alarms: {
    enable: true,
    check_interval_ms: 10000,
    memory_high_watermark: 0.8,
    memory_low_watermark: 0.7,
    cpu_high_watermark: 0.8,
    cpu_low_watermark: 0.6,
  },
  mqtt_schema_validation: { rules: [] },
  mqtt_delayed: { enable: true, max_delay_s: 4294967, max_messages: 100000 },
  mqtt_subscriptions: { exclusive_enable: true, queue_enable: true },
  mqtt_topic_rewrite: { rules: [] },
  mqtt_auto_subscribe: { rules: [] },
};

describe("defaults", () => {
  test("defaultConfig() has every documented default", () => {
    assert.deepEqual(defaultConfig(), EXPECTED_DEFAULTS);
  });

  test("loadConfig() with nothing, and with an empty file, gives the defaults", () => {
    assert.deepEqual(loadConfig(), EXPECTED_DEFAULTS);
    assert.deepEqual(loadConfig({ file: writeToml("") }), EXPECTED_DEFAULTS);
    assert.deepEqual(loadConfig({ file: writeToml("# only a comment\n") }), EXPECTED_DEFAULTS);
  });

  test("each call returns a fresh object", () => {
    const first = defaultConfig();
    first.roles.push("meta");
    first.network.tcp_port = 1;
    assert.deepEqual(defaultConfig(), EXPECTED_DEFAULTS);
  });

  test("an empty section gets its defaults", () => {
    const config = loadConfig({ file: writeToml("[network]\n[log]\n") });
    assert.deepEqual(config, EXPECTED_DEFAULTS);
  });
});

describe("file parsing", () => {
  test("values from the file replace defaults, key by key", () => {
    const file = writeToml(`
cluster_name = "prod"
broker_id = 7
roles = ["broker"]
data_dir = "/var/lib/robustmq"
http_port = 0

[network]
tcp_port = 11883

[mqtt_protocol_config]
max_qos = 1
max_packet_size = 1_048_576
retain_available = false

[mqtt_limits]
queue_drop_policy = "drop_new"
shared_subscription_strategy = "hash_clientid"

[log]
level = "debug"
format = "json"
`);
    const config = loadConfig({ file });
    assert.equal(config.cluster_name, "prod");
    assert.equal(config.broker_id, 7);
    assert.deepEqual(config.roles, ["broker"]);
    assert.equal(config.data_dir, "/var/lib/robustmq");
    assert.equal(config.http_port, 0);
    assert.equal(config.grpc_port, 1228);
    assert.deepEqual(config.network, { bind_address: "0.0.0.0", tcp_port: 11883 });
    assert.equal(config.mqtt_protocol_config.max_qos, 1);
    assert.equal(config.mqtt_protocol_config.max_packet_size, 1048576);
    assert.equal(config.mqtt_protocol_config.retain_available, false);
    assert.equal(config.mqtt_protocol_config.receive_max, 65535);
    assert.equal(config.mqtt_limits.queue_drop_policy, "drop_new");
    assert.equal(config.mqtt_limits.shared_subscription_strategy, "hash_clientid");
    assert.deepEqual(config.log, { level: "debug", format: "json" });
  });

  test("limits at both ends of their ranges are accepted", () => {
    const file = writeToml(`
http_port = 65535
grpc_port = 0
[network]
bind_address = "::"
[mqtt_protocol_config]
max_session_expiry_interval = 4294967295
max_packet_size = 268435460
receive_max = 1
topic_alias_max = 0
[mqtt_limits]
connect_timeout_ms = 100
max_write_buffer_bytes = 65536
max_topic_levels = 1024
`);
    const config = loadConfig({ file });
    assert.equal(config.mqtt_protocol_config.max_session_expiry_interval, 4294967295);
    assert.equal(config.mqtt_protocol_config.max_packet_size, 268435460);
    assert.equal(config.network.bind_address, "::");
  });

  test("bind_address takes IPv4, IPv6 and host names", () => {
    for (const address of ["127.0.0.1", "::1", "fe80::1", "localhost", "mqtt.example.com"]) {
      const file = writeToml(stringify({ network: { bind_address: address } }));
      assert.equal(loadConfig({ file }).network.bind_address, address);
    }
  });
});

describe("overrides", () => {
  const file = writeToml(`
http_port = 8080
data_dir = "/from/file"
[network]
bind_address = "127.0.0.1"
tcp_port = 2883
[log]
level = "warn"
`);

  test("flag > file > default", () => {
    const config = loadConfig({
      file,
      overrides: { network: { tcp_port: 3883 }, log: { level: "debug" }, roles: ["meta"] },
    });
    assert.equal(config.network.tcp_port, 3883, "override beats file");
    assert.equal(config.network.bind_address, "127.0.0.1", "file keeps the rest of the section");
    assert.equal(config.http_port, 8080, "file beats default");
    assert.equal(config.data_dir, "/from/file");
    assert.equal(config.log.level, "debug");
    assert.equal(config.log.format, "auto", "default where nobody set it");
    assert.deepEqual(config.roles, ["meta"], "arrays are replaced whole");
    assert.equal(config.grpc_port, 1228);
  });

  test("undefined overrides are skipped", () => {
    const overrides: DeepPartialOverrides = {
      http_port: undefined,
      network: { tcp_port: undefined },
      log: { level: undefined },
    };
    const config = loadConfig({ file, overrides });
    assert.equal(config.http_port, 8080);
    assert.equal(config.network.tcp_port, 2883);
    assert.equal(config.log.level, "warn");
  });

  test("overrides without a file apply over defaults", () => {
    const config = loadConfig({ overrides: { mqtt_limits: { max_connections: 5 } } });
    assert.equal(config.mqtt_limits.max_connections, 5);
    assert.equal(config.mqtt_limits.max_queued_messages, 1000);
  });

  test("a bad override names the key, the value and its label", () => {
    const message = errorMessage(ErrorCode.CONFIG_INVALID, () =>
      loadConfig({
        overrides: { network: { tcp_port: 70000 } },
        overrideLabels: { "network.tcp_port": "--mqtt-port" },
      }),
    );
    assert.match(message, /network\.tcp_port = 70000 \(from --mqtt-port\)/);
    assert.match(message, /must be an integer from 0 to 65535/);
  });

  test("an override does not excuse a bad value in the file, which is reported as the file's", () => {
    // Accepting it would start now and fail at the next start without the flag.
    const bad = writeToml('[network]\ntcp_port = "1883"\n');
    const message = errorMessage(ErrorCode.CONFIG_INVALID, () =>
      loadConfig({ file: bad, overrides: { network: { tcp_port: 1884 } } }),
    );
    assert.match(message, /1 problem:/);
    assert.match(message, /network\.tcp_port = "1883" \(in the config file\): must be an integer/);
  });

  test("a section that is not a table is refused even when an override sets a key in it", () => {
    const bad = writeToml('mqtt_ws = "off"\nkafka = false\n');
    const message = errorMessage(ErrorCode.CONFIG_INVALID, () =>
      loadConfig({ file: bad, overrides: { mqtt_ws: { port: 0 }, kafka: { port: 0 } } }),
    );
    assert.match(message, /2 problems:/);
    assert.match(message, /mqtt_ws = "off" \(in the config file\): must be a table/);
    assert.match(message, /kafka = false \(in the config file\): must be a table/);
  });
});

/**
 * For every key: bad values, and words the message must contain to say what is allowed.
 * Written out by hand, independently of the schema's own descriptions.
 */
const BAD_VALUES: Record<string, { values: unknown[]; allowed: string }> = {
  cluster_name: { values: ["", 5], allowed: "a non-empty string" },
  broker_id: { values: [-1, 1.5, "1"], allowed: "an integer >= 0" },
  roles: {
    values: [[], ["meta", "meta"], ["meta", "journal"], "meta"],
    allowed: 'distinct roles from "meta", "broker", "engine"',
  },
  data_dir: { values: ["", 1], allowed: "a non-empty directory path" },
  http_port: { values: [65536, -1, "80"], allowed: "an integer from 0 to 65535" },
  grpc_port: { values: [70000, 12.5], allowed: "an integer from 0 to 65535" },
  "network.bind_address": { values: ["not a host", "", 0], allowed: "an IP address" },
  "network.tcp_port": { values: [70000, -1, "1883", true], allowed: "an integer from 0 to 65535" },
  "mqtt_protocol_config.max_session_expiry_interval": {
    values: [4294967296, -1],
    allowed: "an integer from 0 to 4294967295",
  },
  "mqtt_protocol_config.topic_alias_max": {
    values: [65536, -1],
    allowed: "an integer from 0 to 65535",
  },
  "mqtt_protocol_config.max_qos": { values: [3, -1, "2", 1.5], allowed: "one of 0, 1, 2" },
  "mqtt_protocol_config.max_packet_size": {
    values: [63, 268435461],
    allowed: "an integer from 64 to 268435460",
  },
  "mqtt_protocol_config.receive_max": { values: [0, 65536], allowed: "an integer from 1 to 65535" },
  "mqtt_protocol_config.max_message_expiry_interval": {
    values: [-1, 4294967296],
    allowed: "an integer from 0 to 4294967295",
  },
  "mqtt_protocol_config.max_keep_alive": {
    values: [65536, -5],
    allowed: "an integer from 0 to 65535",
  },
  "mqtt_protocol_config.retain_available": { values: ["yes", 1], allowed: "true or false" },
  "mqtt_protocol_config.wildcard_subscription_available": {
    values: ["true"],
    allowed: "true or false",
  },
  "mqtt_protocol_config.shared_subscription_available": { values: [0], allowed: "true or false" },
  "mqtt_protocol_config.subscription_identifier_available": {
    values: ["no"],
    allowed: "true or false",
  },
  "mqtt_limits.max_connections": { values: [0, 2.5], allowed: "an integer >= 1" },
  "mqtt_limits.connect_timeout_ms": { values: [99, "10s"], allowed: "an integer >= 100" },
  "mqtt_limits.max_client_id_length": {
    values: [0, 65536],
    allowed: "an integer from 1 to 65535",
  },
  "mqtt_limits.max_inflight_messages": {
    values: [0, 65536],
    allowed: "an integer from 1 to 65535",
  },
  "mqtt_limits.max_queued_messages": { values: [-1], allowed: "an integer >= 0" },
  "mqtt_limits.queue_drop_policy": {
    values: ["drop_newest", "oldest", 1],
    allowed: 'one of "drop_new", "drop_oldest"',
  },
  "mqtt_limits.max_subscriptions_per_client": { values: [-1], allowed: "an integer >= 0" },
  "mqtt_limits.max_topic_levels": { values: [0, 1025], allowed: "an integer from 1 to 1024" },
  "mqtt_limits.max_topic_alias_bytes": {
    values: [1024, 2 ** 31],
    allowed: "an integer from 65536 to 2147483647",
  },
  "mqtt_limits.max_write_buffer_bytes": { values: [65535, 0], allowed: "an integer >= 65536" },
  "mqtt_limits.shared_subscription_strategy": {
    values: ["sticky", "hash"],
    allowed: 'one of "round_robin", "random", "hash_clientid"',
  },
  "mqtt_limits.max_retained_messages": { values: [-1], allowed: "an integer >= 0" },
  "mqtt_limits.max_retained_payload_bytes": { values: [-0.5], allowed: "an integer >= 0" },
  "mqtt_limits.max_connection_rate": { values: [-1, 1.5], allowed: "an integer >= 0" },
  "mqtt_limits.max_message_rate": { values: [-1], allowed: "an integer >= 0" },
  "mqtt_limits.max_bytes_rate": { values: ["1k"], allowed: "an integer >= 0" },
  "kafka.enable": { values: ["yes", 1], allowed: "true or false" },
  "kafka.port": { values: [-1, 65_536], allowed: "an integer from 0 to 65535" },
  "kafka.advertised_host": { values: ["not a host!", 5], allowed: "an IP address, a host name" },
  "kafka.advertised_port": { values: [-1, 70_000], allowed: "an integer from 0 to 65535" },
  "kafka.max_connections": { values: [0], allowed: "an integer >= 1" },
  "kafka.max_request_bytes": { values: [1023, 2 ** 31], allowed: "an integer from 1024" },
  "kafka.auto_create_topics": { values: ["true"], allowed: "true or false" },
  "kafka.default_partitions": { values: [0, 10_001], allowed: "an integer from 1 to 10000" },
  "kafka.message_max_bytes": { values: [1023, 8_388_609], allowed: "an integer from 1024" },
  "kafka.fsync_policy": { values: ["sometimes"], allowed: 'one of "always", "interval", "never"' },
  "kafka.fsync_interval_ms": { values: [0], allowed: "an integer from 1" },
  "kafka.segment_bytes": { values: [1024], allowed: "an integer from 1048576" },
  "kafka.retention_ms": { values: [-2], allowed: "an integer >= -1" },
  "kafka.retention_bytes": { values: [-2], allowed: "an integer >= -1" },
  "kafka.group_min_session_timeout_ms": {
    // 1_900_000 is in range but above the default maximum (1_800_000): no JoinGroup could pass.
    values: [0, 3_600_001, 1_900_000],
    allowed: "an integer from 1 to 3600000 (milliseconds), at most group_max_session_timeout_ms",
  },
  "kafka.group_max_session_timeout_ms": { values: [0, 3_600_001], allowed: "an integer from 1" },
  "kafka.offsets_retention_ms": { values: [999, "7d"], allowed: "an integer from 1000" },
  "kafka.offsets_retention_check_interval_ms": { values: [99], allowed: "an integer from 100" },
  "kafka.tls": { values: ["yes"], allowed: "true or false" },
  "kafka.zero_copy": { values: [1], allowed: "true or false" },
  "kafka.allow_anonymous": { values: ["no", 0], allowed: 'true, false or "auto"' },
  "kafka.sasl_mechanisms": {
    values: [["GSSAPI"], ["PLAIN", "PLAIN"], "PLAIN"],
    allowed: 'a list of distinct names from "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"',
  },
  "kafka_acl.no_match": { values: ["maybe"], allowed: 'one of "allow", "deny"' },
  "kafka_acl.rules": {
    values: ["all", [true]],
    allowed: "a list of tables, each with permission",
  },
  "kafka.auth_timeout_ms": { values: [99, 3_600_001], allowed: "an integer from 100" },
  "kafka.connections_max_idle_ms": {
    values: [99, 2_147_483_648],
    allowed: "an integer from 100",
  },
  "kafka.group_initial_rebalance_delay_ms": {
    values: [-1, 300_001],
    allowed: "an integer from 0",
  },
  "mqtt_delayed.enable": { values: ["yes", 1], allowed: "true or false" },
  "mqtt_delayed.max_delay_s": {
    values: [0, 4294968, 1.5],
    allowed: "an integer from 1 to 4294967",
  },
  "mqtt_delayed.max_messages": { values: [0, "10"], allowed: "an integer from 1 to 100000000" },
  "mqtt_subscriptions.exclusive_enable": { values: ["yes"], allowed: "true or false" },
  "mqtt_subscriptions.queue_enable": { values: [0], allowed: "true or false" },
  "mqtt_topic_rewrite.rules": {
    values: [
      5,
      ["a"],
      new Array(1001).fill({ action: "all", source_topic: "a", re: "a", dest_topic: "b" }),
    ],
    allowed: "a list of at most 1000 tables, each with action",
  },
  "mqtt_auto_subscribe.rules": {
    values: [5, ["a"], new Array(1001).fill({ topic: "a" })],
    allowed: "a list of at most 1000 tables, each with topic",
  },
  "mqtt_sys.enable": { values: ["on"], allowed: "true or false" },
  "mqtt_sys.interval_ms": { values: [-1, 3_600_001], allowed: "an integer from 0 to 3600000" },
  "mqtt_sys.client_events": { values: [1], allowed: "true or false" },
  "bridge.mqtt_to_kafka": {
    values: [5, ["a"]],
    allowed: "a list of tables, each with mqtt_filter",
  },
  "bridge.kafka_to_mqtt": {
    values: [{ kafka_topic: "t" }, [1]],
    allowed: "a list of tables, each with kafka_topic",
  },
  "mqtt_persistence.enable": { values: ["yes", 1], allowed: "true or false" },
  "mqtt_persistence.fsync_policy": {
    values: ["sometimes", "ALWAYS"],
    allowed: 'one of "always", "interval", "never"',
  },
  "mqtt_persistence.fsync_interval_ms": { values: [0, 3_600_001], allowed: "an integer from 1" },
  "mqtt_persistence.segment_bytes": { values: [1024, 2 ** 31], allowed: "an integer from 1048576" },
  "mqtt_persistence.checkpoint_interval_ms": { values: [99], allowed: "an integer from 100" },
  "log.level": {
    values: ["verbose", "INFO", 3],
    allowed: 'one of "trace", "debug", "info", "warn", "error", "fatal"',
  },
  "log.format": { values: ["text", true], allowed: 'one of "auto", "json", "pretty"' },
  "admin.username": { values: ["", 1], allowed: "a non-empty string" },
  "admin.password": { values: [1, true], allowed: "a string" },
  "admin.token_ttl_s": { values: [59, 31536001, 1.5], allowed: "an integer from 60 to 31536000" },
  "admin.metrics_auth": { values: ["false", 0], allowed: "true or false" },
  "tls.cert_file": { values: [1, true], allowed: "a file path" },
  "tls.key_file": { values: [1], allowed: "a file path" },
  "tls.ca_file": { values: [false], allowed: "a file path" },
  "tls.min_version": { values: ["TLSv1.1", "1.2"], allowed: 'one of "TLSv1.2", "TLSv1.3"' },
  "tls.ciphers": { values: [1], allowed: "an OpenSSL cipher list" },
  "tls.verify_client": { values: ["yes"], allowed: "true or false" },
  "tls.peer_cert_as_username": { values: ["dn", ""], allowed: 'one of "cn", "san", "none"' },
  "tls.handshake_timeout_ms": { values: [99, 3_600_001], allowed: "an integer from 100" },
  "mqtt_tls.enable": { values: ["true"], allowed: "true or false" },
  "mqtt_tls.port": { values: [-1, 65_536], allowed: "an integer from 0 to 65535" },
  "mqtt_ws.enable": { values: [1], allowed: "true or false" },
  "mqtt_ws.port": { values: [65_536], allowed: "an integer from 0 to 65535" },
  "mqtt_ws.path": {
    values: ["mqtt", "/a b", "/mqtt?x", ""],
    allowed: 'a URL path starting with "/"',
  },
  "mqtt_wss.enable": { values: ["no"], allowed: "true or false" },
  "mqtt_wss.port": { values: [-5], allowed: "an integer from 0 to 65535" },
  "mqtt_wss.path": { values: ["/é"], allowed: 'a URL path starting with "/"' },
  "proxy_protocol.tcp": { values: ["v2"], allowed: "true or false" },
  "proxy_protocol.tls": { values: [1], allowed: "true or false" },
  "proxy_protocol.timeout_ms": { values: [99, 600_001], allowed: "an integer from 100 to 600000" },
  "mqtt_auth.allow_anonymous": { values: ["yes", 1], allowed: 'true, false or "auto"' },
  "mqtt_auth.authenticators": {
    values: [["ldap"], ["jwt", "jwt"], "jwt"],
    allowed: 'a list of distinct names from "built_in", "jwt", "http"',
  },
  "mqtt_auth_jwt.secret": { values: [1], allowed: "an HMAC secret" },
  "mqtt_auth_jwt.secret_base64": { values: ["no"], allowed: "true or false" },
  "mqtt_auth_jwt.public_key_file": { values: [true], allowed: "a PEM file" },
  "mqtt_auth_jwt.jwks_file": { values: [2], allowed: "a JSON Web Key Set file" },
  "mqtt_auth_jwt.from": { values: ["header"], allowed: 'one of "password", "username"' },
  "mqtt_auth_jwt.verify_client_id": { values: [1], allowed: "true or false" },
  "mqtt_auth_jwt.client_id_claim": { values: [""], allowed: "a claim name" },
  "mqtt_auth_jwt.verify_username": { values: ["true"], allowed: "true or false" },
  "mqtt_auth_jwt.username_claim": { values: [""], allowed: "a claim name" },
  "mqtt_auth_jwt.superuser_claim": { values: [7], allowed: "a claim name" },
  "mqtt_auth_jwt.clock_tolerance_s": { values: [-1, 3601], allowed: "an integer from 0 to 3600" },
  "mqtt_auth_http.url": {
    values: ["ftp://x", "localhost:80"],
    allowed: "an http:// or https:// URL",
  },
  "mqtt_auth_http.authorization": { values: [1], allowed: "an Authorization header value" },
  "mqtt_auth_http.timeout_ms": { values: [9, 60_001], allowed: "an integer from 10 to 60000" },
  "mqtt_auth_http.cache_ttl_ms": { values: [-1], allowed: "an integer from 0 to 86400000" },
  "mqtt_auth_http.cache_max_entries": { values: [0], allowed: "an integer from 1 to 10000000" },
  "mqtt_acl.no_match": { values: ["ignore"], allowed: 'one of "allow", "deny"' },
  "mqtt_acl.rules": {
    values: ["allow", [true]],
    allowed: "a list of tables, each with permission",
  },
  "mqtt_acl.cache_max_topics": { values: [-1, 100_001], allowed: "an integer from 0 to 100000" },
  "mqtt_flapping.enable": { values: ["on"], allowed: "true or false" },
  "mqtt_flapping.max_disconnects": { values: [1], allowed: "an integer from 2 to 1000000" },
  "mqtt_flapping.window_s": { values: [0, 86_401], allowed: "an integer from 1 to 86400" },
  "mqtt_flapping.ban_s": { values: [0], allowed: "an integer from 1 to 31536000" },
  "mqtt_slow_subs.enable": { values: ["true"], allowed: "true or false" },
  "mqtt_slow_subs.threshold_ms": { values: [0, 1.5], allowed: "an integer from 1 to 3600000" },
  "mqtt_slow_subs.top_k": { values: [0, 1001], allowed: "an integer from 1 to 1000" },
  "mqtt_slow_subs.expire_s": { values: [0, 86_401], allowed: "an integer from 1 to 86400" },
  "mqtt_alarms.enable": { values: [0], allowed: "true or false" },
  "mqtt_alarms.check_interval_ms": { values: [99], allowed: "an integer from 100 to 3600000" },
  "mqtt_alarms.memory_high_watermark": {
    values: [0, 1.5, "0.8"],
    allowed: "a number above 0 and at most 1",
  },
  "mqtt_alarms.memory_low_watermark": {
    values: [0, 0.8, 0.9],
    allowed: "a number above 0 and at most 1, below memory_high_watermark",
  },
  "mqtt_alarms.cpu_high_watermark": {
    values: [-0.1, 2],
    allowed: "a number above 0 and at most 1",
  },
  "mqtt_alarms.cpu_low_watermark": {
    values: [0.8, 1],
    allowed: "a number above 0 and at most 1, below cpu_high_watermark",
  },
  "mqtt_schema_validation.rules": {
    values: [5, ["a"]],
    allowed: "a list of tables, each with topic (an MQTT topic filter) and exactly one of",
  },
};

/**
 * A mistake inside one rule of a list, and the problem line it must give: the rule's index,
 * its field, the value, and the reason the shared rule schemas give (the admin API's too).
 */
const RULE_PROBLEMS: Array<{ dotted: string; rules: unknown[]; problem: string }> = [
  {
    dotted: "kafka_acl.rules",
    rules: [{ permission: "allow", action: "publish", topic: "t" }],
    problem:
      'kafka_acl.rules[0].action = "publish": must be one of "read", "write", "admin", "all"',
  },
  {
    dotted: "kafka_acl.rules",
    rules: [{ permission: "allow", action: "read", topic: "a/#" }],
    problem: 'kafka_acl.rules[0].topic = "a/#": a topic name, a prefix ending in "*", or "*"',
  },
  {
    dotted: "mqtt_acl.rules",
    rules: [{ permission: "allow", action: "pub", topic: "a" }],
    problem: 'mqtt_acl.rules[0].action = "pub": must be one of "publish", "subscribe", "all"',
  },
  {
    dotted: "mqtt_acl.rules",
    rules: [{ permission: "allow", action: "publish" }],
    problem: "mqtt_acl.rules[0].topic: missing: must be a string",
  },
  {
    dotted: "mqtt_acl.rules",
    rules: [{ permission: "maybe", action: "publish", topic: "a" }],
    problem: 'mqtt_acl.rules[0].permission = "maybe": must be one of "allow", "deny"',
  },
  {
    dotted: "mqtt_acl.rules",
    rules: [{ permission: "allow", action: "all", topic: "a/#/b" }],
    problem: 'mqtt_acl.rules[0].topic = "a/#/b": not a valid topic filter',
  },
  {
    dotted: "mqtt_topic_rewrite.rules",
    rules: [{ action: "move", source_topic: "a/#", re: "^a/(.*)$", dest_topic: "b/$1" }],
    problem: 'mqtt_topic_rewrite.rules[0].action = "move": must be one of',
  },
  {
    dotted: "mqtt_topic_rewrite.rules",
    rules: [{ action: "all", source_topic: "a/#", re: "^a/(.*)$", dest_topic: "b/$2" }],
    problem:
      'mqtt_topic_rewrite.rules[0].dest_topic = "b/$2": refers to $2 but the expression has 1 group',
  },
  {
    dotted: "mqtt_topic_rewrite.rules",
    rules: [{ action: "all", source_topic: "a/#", re: "(", dest_topic: "b" }],
    problem: 'mqtt_topic_rewrite.rules[0].re = "(": ',
  },
  {
    dotted: "mqtt_topic_rewrite.rules",
    rules: [{ action: "all", source_topic: "$share/g/a", re: "a", dest_topic: "b" }],
    problem: 'mqtt_topic_rewrite.rules[0].source_topic = "$share/g/a": not a plain topic filter',
  },
  {
    dotted: "mqtt_auto_subscribe.rules",
    rules: [{ topic: "a", qos: 3 }],
    problem: "mqtt_auto_subscribe.rules[0].qos = 3: must be one of 0, 1, 2",
  },
  {
    dotted: "mqtt_auto_subscribe.rules",
    rules: [{ topic: "$queue/a", no_local: true }],
    problem:
      "mqtt_auto_subscribe.rules[0].no_local = true: a shared subscription cannot have no_local",
  },
  {
    dotted: "bridge.mqtt_to_kafka",
    rules: [{ mqtt_filter: "a/#/b", kafka_topic: "t" }],
    problem: 'bridge.mqtt_to_kafka[0].mqtt_filter = "a/#/b": not a valid MQTT topic filter',
  },
  {
    dotted: "bridge.mqtt_to_kafka",
    rules: [{ mqtt_filter: "a", kafka_topic: "a b" }],
    problem: 'bridge.mqtt_to_kafka[0].kafka_topic = "a b": topic name "a b" may only contain',
  },
  {
    dotted: "bridge.kafka_to_mqtt",
    rules: [{ kafka_topic: "t", mqtt_topic: "a/+" }],
    problem: 'bridge.kafka_to_mqtt[0].mqtt_topic = "a/+": a topic template may hold no wildcard',
  },
  ...["$share/g/a/#", "$queue/a", "$exclusive/a/+"].map((filter) => ({
    dotted: "bridge.mqtt_to_kafka",
    rules: [{ mqtt_filter: filter, kafka_topic: "t" }],
    problem: `bridge.mqtt_to_kafka[0].mqtt_filter = "${filter}": a bridge filter is matched against topic names: no $share/, $queue/ or $exclusive/`,
  })),
  {
    dotted: "bridge.kafka_to_mqtt",
    rules: [{ kafka_topic: "t", mqtt_topic: "$out/{key}" }],
    problem:
      'bridge.kafka_to_mqtt[0].mqtt_topic = "$out/{key}": a topic template may not start with $',
  },
  {
    dotted: "bridge.kafka_to_mqtt",
    rules: [{ kafka_topic: "t", mqtt_topic: "a/\u0000/{key}" }],
    problem:
      'bridge.kafka_to_mqtt[0].mqtt_topic = "a/\\u0000/{key}": a topic template may not contain U+0000 (NUL)',
  },
  {
    dotted: "bridge.kafka_to_mqtt",
    rules: [{ kafka_topic: "t", mqtt_topic: "d/{keys}/{key}" }],
    problem:
      'bridge.kafka_to_mqtt[0].mqtt_topic = "d/{keys}/{key}": unknown placeholder {keys}: only {key}, {topic} and {partition}',
  },
  {
    dotted: "bridge.kafka_to_mqtt",
    rules: [{ kafka_topic: "t", mqtt_topic: "" }],
    problem: 'bridge.kafka_to_mqtt[0].mqtt_topic = "": must not be empty',
  },
  {
    dotted: "mqtt_schema_validation.rules",
    rules: [{ topic: "a", schema: "not json" }],
    problem: 'mqtt_schema_validation.rules[0].schema = "not json": not JSON text of a JSON Schema',
  },
  {
    dotted: "mqtt_schema_validation.rules",
    rules: [{ topic: "a/#", schema: "{}", schema_file: "s.json" }],
    problem:
      "mqtt_schema_validation.rules[0] = a table: must have exactly one of schema_file and schema",
  },
  {
    dotted: "mqtt_schema_validation.rules",
    rules: [{ topic: "a", schema_file: "" }],
    problem: 'mqtt_schema_validation.rules[0].schema_file = "": must not be empty',
  },
];

function tomlSetting(dotted: string, value: unknown): string {
  const [first, second] = dotted.split(".");
  return stringify(second === undefined ? { [first]: value } : { [first]: { [second]: value } });
}

describe("bad values", () => {
  test("the table above covers every key of the schema", () => {
    assert.deepEqual(
      Object.keys(BAD_VALUES).sort(),
      leafPaths()
        .map((p) => p.join("."))
        .sort(),
    );
  });

  test("every key documents what it allows (no fallback to zod's wording)", () => {
    for (const path of leafPaths()) {
      const schema = keySchemaAt(path);
      assert.ok(schema !== undefined, path.join("."));
      assert.ok(keyDocOf(schema)?.allowed, `${path.join(".")} has no KeyDoc`);
    }
  });

  for (const [dotted, { values, allowed }] of Object.entries(BAD_VALUES)) {
    for (const value of values) {
      test(`${dotted} = ${renderValue(value)} names the key, the value and what is allowed`, () => {
        const message = invalidMessage(tomlSetting(dotted, value));
        assert.ok(message.includes(`${dotted} = ${renderValue(value)}: must be `), message);
        assert.ok(message.includes(allowed), `"${allowed}" missing from:\n${message}`);
        assert.match(message, /1 problem:/);
      });
    }
  }

  for (const { dotted, rules, problem } of RULE_PROBLEMS) {
    test(`a bad rule in ${dotted} names the rule, its field and value: ${problem}`, () => {
      const message = invalidMessage(tomlSetting(dotted, rules));
      assert.ok(message.includes(`  - ${problem}`), message);
      assert.match(message, /1 problem:/);
    });
  }

  test("every bad rule of a list is reported at once, each with its index", () => {
    const message = invalidMessage(`
[[mqtt_acl.rules]]
permission = "allow"
action = "all"
topic = "a"
[[mqtt_acl.rules]]
permission = "allow"
action = "pub"
topic = "a"
[[mqtt_acl.rules]]
permission = "deny"
action = "all"
topic = "a"
ip = "10.0.0.0/33"
permision = "allow"
`);
    assert.match(message, /3 problems:/);
    assert.ok(message.includes('mqtt_acl.rules[1].action = "pub": must be one of'), message);
    assert.ok(
      message.includes('mqtt_acl.rules[2].ip = "10.0.0.0/33": not an IP address or CIDR block'),
      message,
    );
    assert.ok(
      message.includes('unknown key "permision" in mqtt_acl.rules[2]; did you mean "permission"?'),
      message,
    );
  });

  test("all problems are reported at once", () => {
    const message = invalidMessage(`
http_port = 70000
[network]
tcp_prot = 1883
[mqtt_protocol_config]
max_qos = 3
[log]
level = "loud"
`);
    assert.match(message, /4 problems:/);
    assert.match(message, /http_port = 70000/);
    assert.match(message, /unknown key "tcp_prot" in \[network\]/);
    assert.match(message, /mqtt_protocol_config\.max_qos = 3: must be one of 0, 1, 2/);
    assert.match(message, /log\.level = "loud"/);
    assert.ok(message.includes(dir), "names the file");
  });

  test("a value with more than one fault is reported once", () => {
    const message = invalidMessage('roles = ["x", "x", "y"]\n');
    assert.match(message, /1 problem:/);
  });

  test("a quoted number gets a hint to drop the quotes", () => {
    assert.match(invalidMessage('[network]\ntcp_port = "1883"\n'), /without quotes/);
    assert.match(invalidMessage('[mqtt_protocol_config]\nmax_qos = "2"\n'), /without quotes/);
    assert.doesNotMatch(invalidMessage('[log]\nformat = "true"\n'), /without quotes/);
    assert.match(
      invalidMessage('[mqtt_protocol_config]\nretain_available = "false"\n'),
      /without quotes/,
    );
    assert.doesNotMatch(invalidMessage('[log]\nlevel = "1"\n'), /without quotes/);
  });

  test("a near-miss choice gets a suggestion", () => {
    assert.match(invalidMessage('[log]\nlevel = "warning"\n'), /did you mean "warn"\?/);
    assert.match(invalidMessage('roles = ["brokr"]\n'), /did you mean "broker"\?/);
    assert.match(
      invalidMessage('[mqtt_limits]\nqueue_drop_policy = "drop_newest"\n'),
      /did you mean "drop_new"\?/,
    );
  });

  test("a section that is not a table", () => {
    const message = invalidMessage("network = 5\n");
    assert.match(message, /network = 5: must be a table \(a \[network\] section\)/);
  });

  test("a TOML date or time where a section is expected is not taken as an empty table", () => {
    // smol-toml gives dates and times as JS Dates, which zod's object schema took as {}.
    const message = invalidMessage(
      "mqtt_limits = 1979-05-27\nadmin = 07:32:00\nlog = 1979-05-27T07:32:00Z\n",
    );
    assert.match(message, /3 problems:/);
    assert.match(
      message,
      /mqtt_limits = 1979-05-27: must be a table \(a \[mqtt_limits\] section\)/,
    );
    assert.match(message, /admin = 07:32:00\.000: must be a table \(a \[admin\] section\)/);
    assert.match(message, /log = 1979-05-27T07:32:00\.000Z: must be a table \(a \[log\] section\)/);
    // A flag setting a key in that section does not hide the file's mistake.
    const file = writeToml("log = 1979-05-27\n");
    const withFlag = errorMessage(ErrorCode.CONFIG_INVALID, () =>
      loadConfig({ file, overrides: { log: { level: "warn" } } }),
    );
    assert.match(withFlag, /log = 1979-05-27 \(in the config file\): must be a table/);
  });

  test("a TOML date where a list's table is expected names the list", () => {
    const message = invalidMessage("mqtt_acl = { rules = [1979-05-27] }\n");
    assert.match(message, /1 problem:/);
    assert.match(message, /mqtt_acl\.rules = \[1979-05-27\]: must be a list of tables/);
  });
});

describe("rules between sections", () => {
  test("kafka group session timeouts: min above max is refused, equal is fine", () => {
    const message = invalidMessage(
      "[kafka]\ngroup_min_session_timeout_ms = 10000\ngroup_max_session_timeout_ms = 5000\n",
    );
    assert.match(
      message,
      /kafka\.group_min_session_timeout_ms = 10000: must be .*at most group_max/,
    );
    const file = writeToml(
      "[kafka]\ngroup_min_session_timeout_ms = 5000\ngroup_max_session_timeout_ms = 5000\n",
    );
    assert.equal(loadConfig({ file }).kafka.group_min_session_timeout_ms, 5000);
  });

  test("an authenticator without what it needs, all reported at once", () => {
    const message = invalidMessage(`
[mqtt_auth]
authenticators = ["jwt", "http"]
[mqtt_auth_jwt]
verify_username = true
from = "username"
`);
    assert.match(message, /3 problems:/);
    assert.ok(
      message.includes(
        'mqtt_auth.authenticators = ["jwt", "http"]: has "jwt", which needs a key in [mqtt_auth_jwt]: set secret, public_key_file or jwks_file',
      ),
      message,
    );
    assert.match(message, /mqtt_auth_jwt\.verify_username = true: needs from = "password"/);
    assert.match(message, /mqtt_auth_http\.url: must be set: mqtt_auth\.authenticators has "http"/);
  });

  test("the MQTT message log's segments must hold a message of max_packet_size", () => {
    const message = invalidMessage("[mqtt_persistence]\nsegment_bytes = 2097152\n");
    assert.match(
      message,
      /mqtt_persistence\.segment_bytes = 2097152: must be at least 10747904: a message of mqtt_protocol_config\.max_packet_size/,
    );
    const small =
      "[mqtt_persistence]\nsegment_bytes = 2097152\n[mqtt_protocol_config]\nmax_packet_size = 1048576\n";
    assert.equal(loadConfig({ file: writeToml(small) }).mqtt_persistence.segment_bytes, 2097152);
    const off = "[mqtt_persistence]\nenable = false\nsegment_bytes = 2097152\n";
    assert.equal(loadConfig({ file: writeToml(off) }).mqtt_persistence.enable, false);
  });

  test("bridge rules with the Kafka listener off", () => {
    const message = invalidMessage(
      '[kafka]\nenable = false\n[[bridge.mqtt_to_kafka]]\nmqtt_filter = "a/#"\nkafka_topic = "t"\n',
    );
    assert.match(message, /kafka\.enable = false: must be true while \[bridge\] has rules/);
  });

  test("Kafka clients that must authenticate need a mechanism the node can check", () => {
    const closed = invalidMessage("[kafka]\nallow_anonymous = false\n");
    assert.match(closed, /kafka\.sasl_mechanisms: offers no mechanism this node can check/);
    const scramOnly = invalidMessage(
      '[mqtt_auth]\nauthenticators = ["jwt"]\n[mqtt_auth_jwt]\nsecret = "s"\n[kafka]\nsasl_mechanisms = ["SCRAM-SHA-256"]\n',
    );
    assert.match(scramOnly, /SCRAM needs "built_in" there/);
    const file = writeToml('[mqtt_auth]\nauthenticators = ["built_in"]\n');
    const config = loadConfig({ file });
    assert.equal(config.kafka.allow_anonymous, "auto");
    const tls = invalidMessage("[kafka]\ntls = true\n");
    assert.match(tls, /tls\.cert_file: must be set: \[kafka\] tls is enabled/);
    // A verified certificate authenticates only when it names a user.
    const certs = "[kafka]\nallow_anonymous = false\ntls = true\n[tls]\nverify_client = true\n";
    assert.doesNotMatch(invalidMessage(certs), /kafka\.sasl_mechanisms/);
    const nameless = invalidMessage(`${certs}peer_cert_as_username = "none"\n`);
    assert.match(nameless, /kafka\.sasl_mechanisms: offers no mechanism this node can check/);
  });

  test("an enabled TLS listener without certificate and key, verify_client without ca_file", () => {
    const message = invalidMessage("[mqtt_wss]\nenable = true\n[tls]\nverify_client = true\n");
    assert.match(message, /3 problems:/);
    assert.match(message, /tls\.cert_file: must be set: \[mqtt_wss\] is enabled/);
    assert.match(message, /tls\.key_file: must be set: \[mqtt_wss\] is enabled/);
    assert.match(message, /tls\.ca_file: must be set: tls\.verify_client = true needs the CA/);
  });

  test("the same sections are fine when what they need is there, or unused", () => {
    const file = writeToml(`
[mqtt_auth]
authenticators = ["jwt", "http"]
[mqtt_auth_jwt]
secret = "s"
[mqtt_auth_http]
url = "http://127.0.0.1/auth"
[tls]
verify_client = true
[[bridge.mqtt_to_kafka]]
mqtt_filter = "a/#"
kafka_topic = "t"
`);
    assert.doesNotThrow(() => loadConfig({ file }));
  });
});

describe("unknown keys", () => {
  test("at the top level", () => {
    const message = invalidMessage('cluster = "x"\n');
    assert.match(message, /unknown key "cluster" at the top level/);
  });

  test("in a section, with a did-you-mean hint", () => {
    const message = invalidMessage("[network]\ntcp_prot = 1883\n");
    assert.match(message, /unknown key "tcp_prot" in \[network\]; did you mean "tcp_port"\?/);
  });

  test("in every section", () => {
    for (const section of ["network", "mqtt_protocol_config", "mqtt_limits", "log"]) {
      const message = invalidMessage(`[${section}]\nzzz_unknown = 1\n`);
      assert.match(message, new RegExp(`unknown key "zzz_unknown" in \\[${section}\\]`));
    }
  });

  test("a misspelt section", () => {
    const message = invalidMessage("[netwrok]\ntcp_port = 1\n");
    assert.match(message, /unknown key "netwrok" at the top level; did you mean "network"\?/);
  });

  test("a top-level key written after a section header", () => {
    const message = invalidMessage('[log]\nlevel = "info"\nhttp_port = 8080\n');
    assert.match(message, /unknown key "http_port" in \[log\]; "http_port" is a top-level key/);
  });

  test("a section's key in the wrong place", () => {
    assert.match(invalidMessage("tcp_port = 1883\n"), /"tcp_port" belongs in \[network\]/);
    assert.match(
      invalidMessage("[mqtt_limits]\nmax_qos = 1\n"),
      /"max_qos" belongs in \[mqtt_protocol_config\]/,
    );
  });

  test("nothing unrelated is suggested", () => {
    const message = invalidMessage("[network]\ncompletely_different = 1\n");
    assert.doesNotMatch(message, /did you mean|belongs in/);
  });
});

describe("file errors", () => {
  test("a TOML syntax error names the file, line and column", () => {
    const file = writeToml('cluster_name = "a"\n[network]\ntcp_port = \nbind_address = "x"\n');
    const message = errorMessage(ErrorCode.CONFIG_FILE, () => loadConfig({ file }));
    assert.ok(message.includes(`"${file}"`), message);
    assert.match(message, /at line 3, column \d+/);
    assert.match(message, /tcp_port = /, "shows the offending line");
  });

  test("an unclosed string is a syntax error on its line", () => {
    const file = writeToml('\n\ncluster_name = "unclosed\n');
    const message = errorMessage(ErrorCode.CONFIG_FILE, () => loadConfig({ file }));
    assert.match(message, /at line 3,/);
  });

  test("a key defined twice is a syntax error", () => {
    const file = writeToml("http_port = 1\nhttp_port = 2\n");
    const message = errorMessage(ErrorCode.CONFIG_FILE, () => loadConfig({ file }));
    assert.match(message, /at line 2,/);
  });

  test("a missing file names the file and where it looked", () => {
    const file = join(dir, "does-not-exist.toml");
    const message = errorMessage(ErrorCode.CONFIG_FILE, () => loadConfig({ file }));
    assert.ok(message.includes(`"${file}"`), message);
    assert.match(message, /no such file/);
  });

  test("a directory is not a config file", () => {
    const message = errorMessage(ErrorCode.CONFIG_FILE, () => loadConfig({ file: dir }));
    assert.match(message, /directory/);
  });
});

describe("helpers", () => {
  test("closest() suggests likely typos only", () => {
    assert.equal(closest("tcp_prot", ["bind_address", "tcp_port"]), "tcp_port");
    assert.equal(closest("warning", ["info", "warn", "error"]), "warn");
    assert.equal(closest("INFO", ["info", "warn"]), "info");
    assert.equal(closest("xyz", ["info", "warn"]), undefined);
    assert.equal(closest("max", ["max_qos", "max_keep_alive"]), undefined);
  });

  test("renderValue() shows values as TOML would", () => {
    assert.equal(renderValue("a"), '"a"');
    assert.equal(renderValue(5), "5");
    assert.equal(renderValue(true), "true");
    assert.equal(renderValue(["a", 1]), '["a", 1]');
    assert.equal(renderValue({ a: 1 }), "a table");
    assert.equal(renderValue("x".repeat(100)).length, 65);
  });
});
