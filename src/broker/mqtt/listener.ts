import { type AddressInfo, createServer, type Server } from "node:net";
import { ErrorCode, RobustMQError } from "../../errors.ts";
import type { MqttBroker } from "./broker.ts";

export interface ListenerAddress {
  host: string;
  port: number;
}

/** A plain TCP MQTT listener; port 0 picks a free port (the chosen one is returned). */
export async function listenTcp(
  broker: MqttBroker,
  host: string,
  port: number,
): Promise<{ server: Server; address: ListenerAddress }> {
  const server = createServer({ noDelay: true }, (socket) => {
    broker.accept(socket, `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`);
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => {
      reject(
        new RobustMQError(
          ErrorCode.LISTEN_FAILED,
          `cannot listen on ${host}:${port}: ${err.message}`,
        ),
      );
    };
    server.once("error", onError);
    server.listen({ host, port, backlog: 4096 }, () => {
      server.off("error", onError);
      server.on("error", (err) => broker.logger.error({ err: err.message }, "MQTT listener error"));
      resolve();
    });
  });
  const info = server.address() as AddressInfo;
  return { server, address: { host: info.address, port: info.port } };
}
