/**
 * A scriptable MQTT server for the load generator's unit tests: our parser and encoder on plain
 * (or TLS) sockets on 127.0.0.1, with the test deciding how each packet is answered. It does just
 * enough to exercise the generator's handshakes, acks and failure paths, nothing like a broker.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createNetServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createTlsServer } from "node:tls";
import {
  encode,
  MqttParser,
  type Packet,
  type ProtocolLevel,
} from "../../../src/protocol/mqtt/index.ts";

export interface FakeConnection {
  readonly socket: Socket;
  /** Set from the client's CONNECT. */
  version: ProtocolLevel;
  clientId: string;
  send(packet: Packet): void;
}

export type FakeHandler = (connection: FakeConnection, packet: Packet) => void;

export interface FakeBroker {
  readonly port: number;
  readonly connections: FakeConnection[];
  close(): Promise<void>;
}

export interface TlsMaterial {
  key: string;
  cert: string;
}

function serve(server: Server, connections: FakeConnection[]): Promise<FakeBroker> {
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      resolve({
        port,
        connections,
        close: () =>
          new Promise<void>((done) => {
            for (const connection of connections) connection.socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/** Starts a server that hands every packet it parses to `handler`. */
export function fakeBroker(handler: FakeHandler, tls?: TlsMaterial): Promise<FakeBroker> {
  const connections: FakeConnection[] = [];
  const onSocket = (socket: Socket): void => {
    const connection: FakeConnection = {
      socket,
      version: 4,
      clientId: "",
      send(packet: Packet): void {
        if (!socket.destroyed) socket.write(encode(packet, connection.version));
      },
    };
    connections.push(connection);
    const parser = new MqttParser((packet) => {
      if (packet.type === "connect") {
        connection.version = packet.protocolVersion;
        connection.clientId = packet.clientId;
      }
      handler(connection, packet);
    }, 1 << 24);
    socket.on("data", (chunk: Buffer) => {
      if (parser.push(chunk) !== null) socket.destroy();
    });
    socket.on("error", () => {});
  };
  const server = tls === undefined ? createNetServer(onSocket) : createTlsServer(tls, onSocket);
  return serve(server, connections);
}

/** Accepts every CONNECT; `more` handles everything else. */
export function accepting(more: FakeHandler = () => {}): FakeHandler {
  return (connection, packet) => {
    if (packet.type === "connect") {
      connection.send({ type: "connack", sessionPresent: false, reasonCode: 0 });
    } else {
      more(connection, packet);
    }
  };
}

/** A self-signed certificate for 127.0.0.1 and localhost, or null without openssl. */
export function selfSignedCertificate(): TlsMaterial | null {
  const dir = mkdtempSync(join(tmpdir(), "rmq-bench-tls-"));
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
      ],
      { stdio: "ignore", timeout: 10_000 },
    );
    return {
      key: readFileSync(join(dir, "key.pem"), "utf8"),
      cert: readFileSync(join(dir, "cert.pem"), "utf8"),
    };
  } catch {
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
