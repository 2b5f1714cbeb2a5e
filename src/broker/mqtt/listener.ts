import { createServer, type Server } from "node:net";
import type { Config } from "../../config/schema.ts";
import type { Logger } from "../../log/logger.ts";
import { type ListenerAddress, listenOn } from "../listen.ts";
import { loadTlsSettings, type TlsSettings } from "../tls-context.ts";
import type { MqttBroker } from "./broker.ts";
import { peerOf, readProxyHeader } from "./transports/proxy-reader.ts";
import { createTlsListener, type ProxyOptions } from "./transports/tls-listener.ts";
import { createWsListener } from "./transports/ws-listener.ts";

export type { ListenerAddress };

/** The MQTT listeners, named as logged ({listener, address}) and shown by the admin API. */
export const MQTT_LISTENERS = ["mqtt", "mqtts", "ws", "wss"] as const;
export type MqttListenerName = (typeof MQTT_LISTENERS)[number];

const DESCRIPTIONS: Readonly<Record<MqttListenerName, string>> = {
  mqtt: "MQTT",
  mqtts: "MQTT over TLS",
  ws: "MQTT over WebSocket",
  wss: "MQTT over secure WebSocket",
};

export interface MqttListeners {
  readonly addresses: Partial<Record<MqttListenerName, ListenerAddress>>;
  /** Stops accepting; connections already made are the broker's to close. */
  close(): void;
}

/** A plain TCP MQTT server; with `proxy`, each connection must open with a PROXY header. */
function createTcpServer(broker: MqttBroker, proxy: ProxyOptions | null): Server {
  return createServer({ noDelay: true }, (socket) => {
    if (proxy === null) {
      broker.accept(socket, peerOf(socket));
      return;
    }
    readProxyHeader(socket, proxy.timeoutMs, broker.logger, (remote) => {
      broker.accept(socket, remote);
      // Paused by readProxyHeader so that no byte after the header is lost; read on now.
      socket.resume();
    });
  });
}

/** A plain TCP MQTT listener; port 0 picks a free port (the chosen one is returned). */
export async function listenTcp(
  broker: MqttBroker,
  host: string,
  port: number,
  proxy: ProxyOptions | null = null,
): Promise<{ server: Server; address: ListenerAddress }> {
  const server = createTcpServer(broker, proxy);
  const address = await listenOn(server, host, port, "mqtt", broker.logger);
  return { server, address };
}

/**
 * Starts every enabled MQTT listener of `config` ([network] tcp_port, [mqtt_tls], [mqtt_ws],
 * [mqtt_wss]; docs/transports.md) and logs each address as {listener, address}. If one cannot
 * start, those already started are closed and the error is thrown.
 */
export async function startMqttListeners(
  broker: MqttBroker,
  config: Config,
  logger: Logger,
): Promise<MqttListeners> {
  const host = config.network.bind_address;
  const proxyOptions = { timeoutMs: config.proxy_protocol.timeout_ms };
  // Read once: a TLS listener without a usable certificate stops start-up before any MQTT
  // listener binds.
  let tls: TlsSettings | null = null;
  const tlsUser = config.mqtt_tls.enable ? "mqtt_tls" : config.mqtt_wss.enable ? "mqtt_wss" : null;
  if (tlsUser !== null) tls = loadTlsSettings(config.tls, `[${tlsUser}]`);

  const servers: Server[] = [];
  const addresses: Partial<Record<MqttListenerName, ListenerAddress>> = {};
  const start = async (name: MqttListenerName, server: Server, port: number) => {
    servers.push(server);
    const address = await listenOn(server, host, port, name, logger);
    addresses[name] = address;
    const text = `${address.host}:${address.port}`;
    logger.info({ listener: name, address: text }, `${DESCRIPTIONS[name]} listening on ${text}`);
  };
  try {
    const tcpProxy = config.proxy_protocol.tcp ? proxyOptions : null;
    await start("mqtt", createTcpServer(broker, tcpProxy), config.network.tcp_port);
    if (config.mqtt_tls.enable && tls !== null) {
      const proxy = config.proxy_protocol.tls ? proxyOptions : null;
      await start("mqtts", createTlsListener(broker, tls, proxy), config.mqtt_tls.port);
    }
    if (config.mqtt_ws.enable) {
      await start("ws", createWsListener(broker, config.mqtt_ws.path, null), config.mqtt_ws.port);
    }
    if (config.mqtt_wss.enable && tls !== null) {
      const path = config.mqtt_wss.path;
      await start("wss", createWsListener(broker, path, tls), config.mqtt_wss.port);
    }
  } catch (err) {
    for (const server of servers) server.close();
    throw err;
  }
  return {
    addresses,
    close() {
      for (const server of servers) server.close();
    },
  };
}
