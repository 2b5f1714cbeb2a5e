import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import type { Logger } from "../../../log/logger.ts";
import {
  clientCertificateProblem,
  socketCertificateUsername,
  type TlsSettings,
} from "../../tls-context.ts";
import type { MqttBroker } from "../broker.ts";
import { setTransportUsername } from "./peer-identity.ts";
import { peerOf, readProxyHeader } from "./proxy-reader.ts";

export interface ProxyOptions {
  readonly timeoutMs: number;
}

/**
 * MQTT over TLS. A plain TCP server accepts (so that a PROXY header can be read before the
 * handshake) and hands each socket to a non-listening tls.Server that does the handshake.
 * A failed handshake (plain TCP, wrong CA, expired or missing client certificate, timeout)
 * closes that socket with a log line; nothing else is affected.
 */
export function createTlsListener(
  broker: MqttBroker,
  settings: TlsSettings,
  proxy: ProxyOptions | null,
): Server {
  const logger = broker.logger;
  const tlsServer = createTlsServer({
    ...settings.options,
    requestCert: settings.verifyClient,
    // Checked on secureConnection instead, so that a refused certificate is logged with why.
    rejectUnauthorized: false,
    handshakeTimeout: settings.handshakeTimeoutMs,
  });
  // The PROXY header's client address, by the balancer-side "address:port" of the TCP
  // connection, which the TLS socket reports too and which is unique among live connections.
  const proxied = new Map<string, { raw: Socket; remote: string }>();
  const remoteOf = (socket: Socket): string => {
    // A socket the client closed mid-handshake may no longer know its peer.
    if (socket.remoteAddress === undefined) return "unknown";
    return proxied.get(peerOf(socket))?.remote ?? peerOf(socket);
  };
  const forget = (raw: Socket, key: string): void => {
    if (proxied.get(key)?.raw === raw) proxied.delete(key);
  };

  tlsServer.on("secureConnection", (socket: TLSSocket) => {
    const remote = remoteOf(socket);
    proxied.delete(peerOf(socket));
    const problem = clientCertificateProblem(socket, settings);
    if (problem !== null) {
      logTlsRefusal(logger, remote, problem);
      socket.destroy();
      return;
    }
    const username = socketCertificateUsername(socket, settings);
    if (username !== undefined) {
      setTransportUsername(socket, username);
      logger.debug({ remote, username }, "TLS client certificate accepted");
    }
    broker.accept(socket, remote);
  });
  tlsServer.on("tlsClientError", (err: Error & { code?: string }, socket: TLSSocket) => {
    const remote = remoteOf(socket);
    if (socket.remoteAddress !== undefined) proxied.delete(peerOf(socket));
    logTlsRefusal(logger, remote, `TLS handshake failed: ${err.code ?? err.message}`);
    // Node leaves the socket open after a handshake timeout.
    socket.destroy();
  });

  return createServer({ noDelay: true }, (raw) => {
    if (proxy === null) {
      tlsServer.emit("connection", raw);
      return;
    }
    readProxyHeader(raw, proxy.timeoutMs, logger, (remote) => {
      const key = peerOf(raw);
      proxied.set(key, { raw, remote });
      // Past the handshake timeout the entry was used or is useless (a failed handshake whose
      // socket forgot its peer); dropping it then bounds the map.
      setTimeout(forget, settings.handshakeTimeoutMs + 1000, raw, key).unref();
      tlsServer.emit("connection", raw);
    });
  });
}

/** Info, not warn: a scanner or a misconfigured client is routine for a public port. */
function logTlsRefusal(logger: Logger, remote: string, reason: string): void {
  logger.info({ remote, reason }, `closing TLS connection: ${reason}`);
}
