import { mkdir } from "node:fs/promises";
import type { Server } from "node:net";
import type { AdminServer } from "../admin/listener.ts";
import type { Bridge } from "../bridge/bridge.ts";
import type { KafkaBroker } from "../broker/kafka/kafka-broker.ts";
import { MqttBroker } from "../broker/mqtt/broker.ts";
import { type ListenerAddress, listenTcp } from "../broker/mqtt/listener.ts";
import { MqttPersistence } from "../broker/mqtt/persistence/persistence.ts";
import { attachPersistence } from "../broker/mqtt/persistence/restore.ts";
import type { Config } from "../config/schema.ts";
import { ErrorCode, RobustMQError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";

export interface RobustMQNode {
  readonly broker: MqttBroker | null;
  /** Where each listener ended up (useful with port 0). */
  readonly listeners: { mqtt?: ListenerAddress; admin?: ListenerAddress; kafka?: ListenerAddress };
  stop(reason?: string): Promise<void>;
}

/**
 * Starts the roles this node runs. Today the broker role serves MQTT over TCP; every node serves
 * the admin HTTP API (src/admin/) on http_port.
 */
export async function startNode(config: Config, logger: Logger): Promise<RobustMQNode> {
  const startedAtMs = Date.now();
  await mkdir(config.data_dir, { recursive: true });
  const listeners: { mqtt?: ListenerAddress; admin?: ListenerAddress; kafka?: ListenerAddress } =
    {};
  let broker: MqttBroker | null = null;
  let server: Server | null = null;
  let kafka: KafkaBroker | null = null;
  let bridge: Bridge | null = null;
  let admin: AdminServer;
  try {
    if (config.roles.includes("broker")) {
      broker = new MqttBroker(config, logger.child({ component: "mqtt" }));
      if (config.mqtt_persistence.enable) await openPersistence(broker, config, logger);
      if (config.kafka.enable) {
        kafka = await startKafka(config, logger);
        listeners.kafka = kafka.address;
      }
      bridge = await startBridgeIfConfigured(config, broker, kafka, logger);
      const tcp = await listenTcp(broker, config.network.bind_address, config.network.tcp_port);
      server = tcp.server;
      listeners.mqtt = tcp.address;
      logger.info(
        { listener: "mqtt", address: `${tcp.address.host}:${tcp.address.port}` },
        `MQTT listening on ${tcp.address.host}:${tcp.address.port}`,
      );
    }
    admin = await startAdmin(config, logger, broker, kafka, startedAtMs, listeners);
  } catch (err) {
    await bridge?.stop();
    await kafka?.stop();
    server?.close();
    await broker?.shutdown();
    await broker?.persistence?.close();
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
        await bridge?.stop();
        await kafka?.stop();
        server?.close();
        await broker?.shutdown();
        await broker?.persistence?.close();
        logger.info("RobustMQ stopped");
      })();
      return stopping;
    },
  };
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
async function startKafka(config: Config, logger: Logger): Promise<KafkaBroker> {
  const { KafkaBroker } = await import("../broker/kafka/kafka-broker.ts");
  const kafka = await KafkaBroker.start(config, logger.child({ component: "kafka" }));
  const address = `${kafka.address.host}:${kafka.address.port}`;
  logger.info({ listener: "kafka", address }, `Kafka listening on ${address}`);
  return kafka;
}

/** The admin HTTP API; logs its address like the MQTT listener (tests and operators read it). */
async function startAdmin(
  config: Config,
  logger: Logger,
  broker: MqttBroker | null,
  kafka: KafkaBroker | null,
  startedAtMs: number,
  listeners: { mqtt?: ListenerAddress; admin?: ListenerAddress },
): Promise<AdminServer> {
  // Small modules: fastify and prom-client load with the first admin request (see listener.ts).
  const { loadAdminCredentials } = await import("../admin/credentials.ts");
  const { startAdminServer } = await import("../admin/listener.ts");
  const adminLogger = logger.child({ component: "admin" });
  const credentials = await loadAdminCredentials(config.admin, config.data_dir, adminLogger);
  const admin = await startAdminServer({
    node: { config, startedAtMs, listeners: () => ({ ...listeners }) },
    broker,
    kafka,
    credentials,
    logger: adminLogger,
  });
  const address = `${admin.address.host}:${admin.address.port}`;
  logger.info({ listener: "admin", address }, `admin HTTP API listening on ${address}`);
  return admin;
}
