import { mkdir } from "node:fs/promises";
import type { Server } from "node:net";
import type { AdminServer } from "../admin/listener.ts";
import { MqttBroker } from "../broker/mqtt/broker.ts";
import { type ListenerAddress, listenTcp } from "../broker/mqtt/listener.ts";
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log/logger.ts";

export interface RobustMQNode {
  readonly broker: MqttBroker | null;
  /** Where each listener ended up (useful with port 0). */
  readonly listeners: { mqtt?: ListenerAddress; admin?: ListenerAddress };
  stop(reason?: string): Promise<void>;
}

/**
 * Starts the roles this node runs. Today the broker role serves MQTT over TCP; every node serves
 * the admin HTTP API (src/admin/) on http_port.
 */
export async function startNode(config: Config, logger: Logger): Promise<RobustMQNode> {
  const startedAtMs = Date.now();
  await mkdir(config.data_dir, { recursive: true });
  const listeners: { mqtt?: ListenerAddress; admin?: ListenerAddress } = {};
  let broker: MqttBroker | null = null;
  let server: Server | null = null;
  if (config.roles.includes("broker")) {
    broker = new MqttBroker(config, logger.child({ component: "mqtt" }));
    const tcp = await listenTcp(broker, config.network.bind_address, config.network.tcp_port);
    server = tcp.server;
    listeners.mqtt = tcp.address;
    logger.info(
      { listener: "mqtt", address: `${tcp.address.host}:${tcp.address.port}` },
      `MQTT listening on ${tcp.address.host}:${tcp.address.port}`,
    );
  }
  let admin: AdminServer;
  try {
    admin = await startAdmin(config, logger, broker, startedAtMs, listeners);
  } catch (err) {
    server?.close();
    await broker?.shutdown();
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
        server?.close();
        await broker?.shutdown();
        logger.info("RobustMQ stopped");
      })();
      return stopping;
    },
  };
}

/** The admin HTTP API; logs its address like the MQTT listener (tests and operators read it). */
async function startAdmin(
  config: Config,
  logger: Logger,
  broker: MqttBroker | null,
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
    credentials,
    logger: adminLogger,
  });
  const address = `${admin.address.host}:${admin.address.port}`;
  logger.info({ listener: "admin", address }, `admin HTTP API listening on ${address}`);
  return admin;
}
