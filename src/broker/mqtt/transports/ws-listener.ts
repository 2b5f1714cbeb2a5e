import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import { WebSocketServer } from "ws";
import {
  clientCertificateProblem,
  socketCertificateUsername,
  type TlsSettings,
} from "../../tls-context.ts";
import type { MqttBroker } from "../broker.ts";
import { setTransportUsername } from "./peer-identity.ts";
import { peerOf } from "./proxy-reader.ts";
import { WebSocketStream } from "./ws-stream.ts";

/** The subprotocols of MQTT over WebSocket, preferred first (3.1 clients send "mqttv3.1"). */
export const MQTT_SUBPROTOCOLS = ["mqtt", "mqttv3.1"] as const;

/** The subprotocol to answer with, or null when the client offers none of ours. */
export function chooseSubprotocol(offered: ReadonlySet<string>): string | null {
  return MQTT_SUBPROTOCOLS.find((p) => offered.has(p)) ?? null;
}

function offeredSubprotocols(req: IncomingMessage): Set<string> {
  const header = req.headers["sec-websocket-protocol"] ?? "";
  return new Set(
    header
      .split(",")
      .map((p) => p.trim())
      .filter((p) => p !== ""),
  );
}

/** Answers a refused upgrade with a plain HTTP status, then closes the socket. */
function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  const body = `${text}\n`;
  socket.once("finish", () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/**
 * MQTT over WebSocket (`tls` null) or secure WebSocket: an HTTP(S) server that upgrades
 * requests for `path` offering subprotocol "mqtt" or "mqttv3.1" and hands each WebSocket to
 * the broker. A WebSocket message larger than max_packet_size closes the connection (1009).
 */
export function createWsListener(
  broker: MqttBroker,
  path: string,
  tls: TlsSettings | null,
): HttpServer {
  const logger = broker.logger;
  const transport = tls === null ? "WebSocket" : "secure WebSocket";
  // An upgrade request must arrive as fast as a CONNECT would. Node checks these timeouts only
  // every connectionsCheckingInterval (30 s by default): checked every second instead.
  const requestTimeoutMs = broker.config.mqtt_limits.connect_timeout_ms;
  const checking = { connectionsCheckingInterval: Math.min(1000, requestTimeoutMs) };
  const server =
    tls === null
      ? createHttpServer(checking)
      : createHttpsServer({
          ...checking,
          ...tls.options,
          requestCert: tls.verifyClient,
          rejectUnauthorized: false,
          handshakeTimeout: tls.handshakeTimeoutMs,
        });
  server.headersTimeout = requestTimeoutMs;
  server.requestTimeout = requestTimeoutMs;
  // What Node would answer itself (408, 400), with a log line.
  server.on("clientError", (err: Error & { code?: string }, socket: Socket) => {
    const timeout = err.code === "ERR_HTTP_REQUEST_TIMEOUT";
    const reason = timeout
      ? "no upgrade request in time"
      : `bad HTTP request: ${err.code ?? err.message}`;
    logger.info({ remote: peerOf(socket), reason }, `closing ${transport} connection: ${reason}`);
    if (!socket.writable) socket.destroy();
    else if (timeout) refuseUpgrade(socket, 408, "Request Timeout");
    else refuseUpgrade(socket, 400, "Bad Request");
  });
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: broker.config.mqtt_protocol_config.max_packet_size,
    handleProtocols: (offered) => chooseSubprotocol(offered) ?? false,
  });

  if (tls !== null) {
    server.on("secureConnection", (socket: TLSSocket) => {
      const problem = clientCertificateProblem(socket, tls);
      if (problem === null) return;
      logger.info(
        { remote: peerOf(socket), reason: problem },
        `closing WSS connection: ${problem}`,
      );
      socket.destroy();
    });
    server.on("tlsClientError", (err: Error & { code?: string }, socket: TLSSocket) => {
      const reason = `TLS handshake failed: ${err.code ?? err.message}`;
      logger.info({ remote: peerOf(socket), reason }, `closing WSS connection: ${reason}`);
    });
  }
  server.on("request", (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(426, { "Content-Type": "text/plain", Upgrade: "websocket", Connection: "close" });
    res.end(`MQTT over ${transport}: connect a WebSocket client to ${path}\n`);
  });
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const remote = peerOf(socket);
    socket.on("error", (err) =>
      logger.debug({ remote, err: err.message }, "WebSocket socket error"),
    );
    const requestPath = (req.url ?? "").split("?", 1)[0];
    const refuse = (status: number, text: string, reason: string) => {
      logger.info({ remote, reason }, `refusing ${transport} upgrade: ${reason}`);
      refuseUpgrade(socket, status, text);
    };
    if (requestPath !== path) {
      refuse(404, "Not Found", `path ${JSON.stringify(requestPath)} is not ${path}`);
      return;
    }
    if (chooseSubprotocol(offeredSubprotocols(req)) === null) {
      refuse(400, "Bad Request", 'no subprotocol "mqtt" or "mqttv3.1" offered');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const stream = new WebSocketStream(ws, (reason) =>
        logger.info({ remote, reason }, `closing ${transport} connection: ${reason}`),
      );
      if (tls !== null) {
        const username = socketCertificateUsername(socket as TLSSocket, tls);
        if (username !== undefined) {
          setTransportUsername(stream, username);
          logger.debug({ remote, username }, "TLS client certificate accepted");
        }
      }
      broker.accept(stream, remote);
    });
  });
  return server;
}
