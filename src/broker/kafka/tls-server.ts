/**
 * Kafka over TLS ([kafka] tls): a non-listening tls.Server that the listener hands each
 * accepted TCP socket, so that max_connections counts handshakes too. A failed handshake or a
 * refused client certificate closes that socket with a log line; a verified certificate's user
 * name becomes the connection's principal.
 */
import type { Socket } from "node:net";
import { createServer, type Server, type TLSSocket } from "node:tls";
import type { Logger } from "../../log/logger.ts";
import {
  clientCertificateProblem,
  socketCertificateUsername,
  type TlsSettings,
} from "../tls-context.ts";

export function createKafkaTlsServer(
  tls: TlsSettings,
  logger: Logger,
  accept: (socket: Socket, principal: string | null) => void,
): Server {
  const server = createServer({
    ...tls.options,
    requestCert: tls.verifyClient,
    // Checked on secureConnection instead, so that a refused certificate is logged.
    rejectUnauthorized: false,
    handshakeTimeout: tls.handshakeTimeoutMs,
  });
  server.on("secureConnection", (socket: TLSSocket) => {
    const problem = clientCertificateProblem(socket, tls);
    if (problem !== null) {
      logger.info(
        { remote: socket.remoteAddress, reason: problem },
        "closing Kafka TLS connection",
      );
      socket.destroy();
      return;
    }
    accept(socket, socketCertificateUsername(socket, tls) ?? null);
  });
  server.on("tlsClientError", (err: Error & { code?: string }, socket: TLSSocket) => {
    const reason = `TLS handshake failed: ${err.code ?? err.message}`;
    logger.info({ remote: socket.remoteAddress, reason }, "closing Kafka TLS connection");
    // Node does not close the socket itself on a handshake timeout: a client that never
    // finishes its handshake would hold a max_connections slot for good.
    socket.destroy();
  });
  return server;
}
