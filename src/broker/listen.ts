/** Binding a listener's server, shared by the MQTT and Kafka listeners. */
import type { AddressInfo, Server } from "node:net";
import { ErrorCode, RobustMQError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";

export interface ListenerAddress {
  host: string;
  port: number;
}

/** Connections the kernel may hold for accept() during a connection storm. */
const ACCEPT_BACKLOG = 4096;

/**
 * Binds `server` on host:port (0 = a free port). A port in use or a bad address becomes
 * LISTEN_FAILED naming both and the listener; later server errors are logged.
 */
export async function listenOn(
  server: Server,
  host: string,
  port: number,
  name: string,
  logger: Logger,
): Promise<ListenerAddress> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => {
      reject(
        new RobustMQError(
          ErrorCode.LISTEN_FAILED,
          `cannot listen on ${host}:${port} (${name}): ${err.message}`,
        ),
      );
    };
    server.once("error", onError);
    server.listen({ host, port, backlog: ACCEPT_BACKLOG }, () => {
      server.off("error", onError);
      server.on("error", (err) =>
        logger.error({ err: err.message, listener: name }, "listener error"),
      );
      resolve();
    });
  });
  const info = server.address() as AddressInfo;
  return { host: info.address, port: info.port };
}
