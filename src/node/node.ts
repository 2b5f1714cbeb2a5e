import { constants } from "node:fs";
import { access, mkdir } from "node:fs/promises";
import type { AdminServer } from "../admin/listener.ts";
import { robustmqVersion } from "../admin/version.ts";
import type { Bridge } from "../bridge/bridge.ts";
import type { KafkaBroker } from "../broker/kafka/kafka-broker.ts";
import { pickWatermarks } from "../broker/mqtt/alarms/monitor.ts";
import { Alarms } from "../broker/mqtt/alarms.ts";
import { MqttBroker } from "../broker/mqtt/broker.ts";
import { DelayedPublisher } from "../broker/mqtt/delayed/publisher.ts";
import {
  type ListenerAddress,
  type MqttListenerName,
  type MqttListeners,
  startMqttListeners,
} from "../broker/mqtt/listener.ts";
import { MqttPersistence } from "../broker/mqtt/persistence/persistence.ts";
import { attachPersistence } from "../broker/mqtt/persistence/restore.ts";
import { TopicRules } from "../broker/mqtt/rules/store.ts";
import type { SchemaValidation } from "../broker/mqtt/schema-validation.ts";
import { SlowSubs } from "../broker/mqtt/slow-subs.ts";
import { SysTopics } from "../broker/mqtt/sys-topics.ts";
import { loadTlsSettings } from "../broker/tls-context.ts";
import { type Config, tlsListenerOf } from "../config/schema.ts";
import { ErrorCode, RobustMQError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import { Security } from "../security/security.ts";
import { lockDataDir } from "./data-dir-lock.ts";

/** Where each listener ended up (useful with port 0); absent when not running. */
export type NodeListeners = Partial<Record<MqttListenerName | "admin" | "kafka", ListenerAddress>>;

export interface RobustMQNode {
  readonly broker: MqttBroker | null;
  readonly listeners: NodeListeners;
  stop(reason?: string): Promise<void>;
}

/**
 * Starts the roles this node runs. Today the broker role serves MQTT over TCP; every node serves
 * the admin HTTP API (src/admin/) on http_port.
 */
export async function startNode(config: Config, logger: Logger): Promise<RobustMQNode> {
  const startedAtMs = Date.now();
  const schemaValidation = config.roles.includes("broker") ? await checkConfigFiles(config) : null;
  await openDataDir(config.data_dir);
  const lock = lockDataDir(config.data_dir);
  const listeners: NodeListeners = {};
  let broker: MqttBroker | null = null;
  let mqttListeners: MqttListeners | null = null;
  let kafka: KafkaBroker | null = null;
  let bridge: Bridge | null = null;
  let topicRules: TopicRules | null = null;
  let admin: AdminServer;
  // Producers of work first (bridge, listeners), then what they feed, then the stores.
  const stopRoles = async (): Promise<void> => {
    await bridge?.stop();
    await kafka?.stop();
    mqttListeners?.close();
    broker?.alarms?.stop();
    await broker?.shutdown();
    await broker?.delayed?.close();
    await broker?.persistence?.close();
    await broker?.security?.close();
    await topicRules?.close();
  };
  try {
    if (config.roles.includes("broker")) {
      broker = new MqttBroker(config, logger.child({ component: "mqtt" }));
      const security = await openSecurity(broker, config, logger);
      topicRules = await openTopicRules(broker, config, logger);
      if (config.mqtt_persistence.enable) await openPersistence(broker, config, logger);
      if (config.mqtt_delayed.enable) {
        broker.delayed = DelayedPublisher.open(
          broker,
          config,
          logger.child({ component: "delayed" }),
        );
      }
      if (config.mqtt_sys.enable) startSysTopics(broker, config);
      await startObservability(broker, config, schemaValidation, logger);
      if (config.kafka.enable) {
        kafka = await startKafka(config, logger, security);
        const kafkaListener = kafka;
        const kickMqtt = security.kick;
        security.kick = (ban) => kickMqtt(ban) + kafkaListener.disconnectBanned();
        listeners.kafka = kafka.address;
      }
      bridge = await startBridgeIfConfigured(config, broker, kafka, logger);
      mqttListeners = await startMqttListeners(broker, config, logger);
      Object.assign(listeners, mqttListeners.addresses);
      broker.delayed?.start(); // overdue ones go now, with the bridge and listeners up
    }
    admin = await startAdmin(config, logger, { broker, kafka, bridge }, startedAtMs, listeners);
  } catch (err) {
    await stopRoles();
    lock.release();
    throw err;
  }
  listeners.admin = admin.address;
  logger.info(
    {
      cluster: config.cluster_name,
      brokerId: config.broker_id,
      roles: config.roles,
      dataDir: config.data_dir,
    },
    "RobustMQ started",
  );
  let stopping: Promise<void> | null = null;
  return {
    broker,
    listeners,
    stop(reason = "stop requested") {
      stopping ??= (async () => {
        logger.info({ reason }, "RobustMQ stopping");
        await admin.close();
        await stopRoles();
        lock.release();
        logger.info("RobustMQ stopped");
      })();
      return stopping;
    },
  };
}

/**
 * The files the configuration names (certificates, JSON Schemas) are read before anything is
 * created on disk, so a wrong path fails the start cleanly, as a bad key does. The TLS context
 * is built again by the listeners; reading a few PEM files twice costs little. Returns the
 * compiled schema rules (Ajv loads only when there are some).
 */
async function checkConfigFiles(config: Config): Promise<SchemaValidation | null> {
  const tlsUser = tlsListenerOf(config);
  if (tlsUser !== "") loadTlsSettings(config.tls, tlsUser);
  const rules = config.mqtt_schema_validation.rules;
  if (rules.length === 0) return null;
  const { compileSchemaValidation } = await import("../broker/mqtt/schema-compile.ts");
  return compileSchemaValidation(rules);
}

/**
 * Creates data_dir and proves it writable. Without this an unusable directory surfaces as a
 * raw EACCES or EEXIST stack from whichever store opens first.
 */
async function openDataDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new RobustMQError(
      ErrorCode.STORAGE_IO,
      `data_dir = "${dir}" is not a usable directory: ${dataDirProblem(err)}`,
    );
  }
}

function dataDirProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "EEXIST" || code === "ENOTDIR") return "a file of that name is in the way";
  if (code === "EACCES" || code === "EPERM" || code === "EROFS") {
    return `no permission to write there (${code})`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** `$SYS` topics: the broker's state every interval_ms, client events as they happen. */
function startSysTopics(broker: MqttBroker, config: Config): void {
  const sys = new SysTopics(
    broker,
    config.broker_id,
    robustmqVersion(),
    config.mqtt_sys.client_events,
  );
  broker.sys = sys;
  sys.start(config.mqtt_sys.interval_ms);
}

/**
 * Slow-subscription statistics, system alarms and payload schema rules (docs/mqtt.md), before
 * any client can connect. Ajv loads only when there are schema rules.
 */
async function startObservability(
  broker: MqttBroker,
  config: Config,
  schemaValidation: SchemaValidation | null,
  logger: Logger,
): Promise<void> {
  const slow = config.mqtt_slow_subs;
  if (slow.enable) {
    const expireMs = slow.expire_s * 1000;
    broker.slowSubs = new SlowSubs({ topK: slow.top_k, thresholdMs: slow.threshold_ms, expireMs });
  }
  if (schemaValidation !== null) broker.schemaValidation = schemaValidation;
  const alarms = config.mqtt_alarms;
  if (!alarms.enable) return;
  const options = { checkIntervalMs: alarms.check_interval_ms, watermarks: pickWatermarks(alarms) };
  broker.alarms = new Alarms(
    broker,
    config.broker_id,
    options,
    logger.child({ component: "alarms" }),
  );
  broker.alarms.start();
}

/** Topic rewrite and auto-subscribe rules (`<data_dir>/rules`), before any client connects. */
async function openTopicRules(
  broker: MqttBroker,
  config: Config,
  logger: Logger,
): Promise<TopicRules> {
  const rules = await TopicRules.open(config, logger.child({ component: "rules" }));
  broker.topicRewrite = rules.rewrite;
  broker.autoSubscribe = rules.autoSubscribe;
  return rules;
}

/** Bans, authentication and ACL, before any client can connect. */
async function openSecurity(broker: MqttBroker, config: Config, logger: Logger): Promise<Security> {
  const security = await Security.open(config, logger.child({ component: "security" }));
  security.kick = () => broker.disconnectBanned();
  broker.security = security;
  return security;
}

/** Recovers durable MQTT state before any client can connect. */
async function openPersistence(broker: MqttBroker, config: Config, logger: Logger): Promise<void> {
  const storageLogger = logger.child({ component: "storage" });
  const { persistence, ...recovered } = await MqttPersistence.open(config, storageLogger);
  await attachPersistence(broker, persistence, recovered);
}

/** The MQTT <-> Kafka bridge (src/bridge/), when [bridge] has rules. */
async function startBridgeIfConfigured(
  config: Config,
  broker: MqttBroker,
  kafka: KafkaBroker | null,
  logger: Logger,
): Promise<Bridge | null> {
  const rules = config.bridge.mqtt_to_kafka.length + config.bridge.kafka_to_mqtt.length;
  if (rules === 0) return null;
  if (kafka === null) {
    throw new RobustMQError(
      ErrorCode.CONFIG_INVALID,
      "[bridge] has rules but [kafka] enable = false: the bridge needs the Kafka listener",
    );
  }
  const { startBridge } = await import("../bridge/bridge.ts");
  return startBridge(config, broker, kafka, logger.child({ component: "bridge" }));
}

/** The Kafka listener (src/broker/kafka/), loaded only when enabled. */
async function startKafka(
  config: Config,
  logger: Logger,
  security: Security,
): Promise<KafkaBroker> {
  const { KafkaBroker } = await import("../broker/kafka/kafka-broker.ts");
  const kafka = await KafkaBroker.start(config, logger.child({ component: "kafka" }), security);
  const address = `${kafka.address.host}:${kafka.address.port}`;
  logger.info({ listener: "kafka", address }, `Kafka listening on ${address}`);
  return kafka;
}

/**
 * A generated admin password is logged once, at warn, and only its hash is kept: a log level
 * above warn would hide it for good and lock the operator out of the admin API. So that line
 * is written at warn whatever the level (docs/admin-api.md).
 */
function credentialsLogger(adminLogger: Logger): Logger {
  return adminLogger.isLevelEnabled("warn")
    ? adminLogger
    : adminLogger.child({}, { level: "warn" });
}

/** The admin HTTP API; logs its address like the MQTT listener (tests and operators read it). */
async function startAdmin(
  config: Config,
  logger: Logger,
  /** What the node runs, for the API's routes and the metrics (the bridge: its counters). */
  parts: { broker: MqttBroker | null; kafka: KafkaBroker | null; bridge: Bridge | null },
  startedAtMs: number,
  listeners: NodeListeners,
): Promise<AdminServer> {
  // Small modules: fastify and prom-client load with the first admin request (see listener.ts).
  const { loadAdminCredentials } = await import("../admin/credentials.ts");
  const { startAdminServer } = await import("../admin/listener.ts");
  const adminLogger = logger.child({ component: "admin" });
  const credentials = await loadAdminCredentials(
    config.admin,
    config.data_dir,
    credentialsLogger(adminLogger),
  );
  const admin = await startAdminServer({
    node: { config, startedAtMs, listeners: () => ({ ...listeners }) },
    ...parts,
    credentials,
    logger: adminLogger,
  });
  const address = `${admin.address.host}:${admin.address.port}`;
  logger.info({ listener: "admin", address }, `admin HTTP API listening on ${address}`);
  return admin;
}
