import { mkdir } from "node:fs/promises";
import type { Server } from "node:net";
import { MqttBroker } from "../broker/mqtt/broker.ts";
import { type ListenerAddress, listenTcp } from "../broker/mqtt/listener.ts";
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log/logger.ts";

export interface RobustMQNode {
  readonly broker: MqttBroker | null;
  /** Where each listener ended up (useful with port 0). */
  readonly listeners: { mqtt?: ListenerAddress };
  stop(reason?: string): Promise<void>;
}

/** Starts the roles this node runs. Today the broker role serves MQTT over TCP. */
export async function startNode(config: Config, logger: Logger): Promise<RobustMQNode> {
  await mkdir(config.data_dir, { recursive: true });
  const listeners: { mqtt?: ListenerAddress } = {};
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
        server?.close();
        await broker?.shutdown();
        logger.info("RobustMQ stopped");
      })();
      return stopping;
    },
  };
}
