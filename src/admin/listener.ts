/**
 * The admin HTTP listener. It listens at once (so the port is known and logged at start), but
 * loads and builds the API itself (fastify, schemas, prom-client: src/admin/server.ts) on the
 * first request. A node nobody administers keeps its heap as small as without an admin API:
 * those modules add several MiB of live heap, which V8 multiplies into GC headroom under heavy
 * MQTT traffic (test/integration/bad-input.test.ts bounds that growth).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import type { Config } from "../config/schema.ts";
import { ErrorCode, RobustMQError } from "../errors.ts";
import type { ListenerInfo } from "./routes-node.ts";
import type { AdminServerOptions } from "./server.ts";

/** Longest an admin request may take to arrive in full. */
const REQUEST_TIMEOUT_MS = 30_000;

export interface AdminServer {
  readonly address: ListenerInfo;
  close(): Promise<void>;
}

async function buildApp(options: AdminServerOptions): Promise<FastifyInstance> {
  const { buildAdminApp } = await import("./server.ts");
  const app = await buildAdminApp(options);
  await app.ready();
  return app;
}

/** Listens on network.bind_address:http_port (0 = a free port). */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  let built: Promise<FastifyInstance> | null = null;
  const server = createServer((request, response) => {
    built ??= buildApp(options);
    built.then(
      (app) => app.routing(request, response),
      (err: unknown) => {
        options.logger.error({ err }, "admin API failed to load");
        response.statusCode = 500;
        response.end();
      },
    );
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  const address = await listen(server, options.node.config);
  return {
    address,
    async close() {
      server.close();
      server.closeIdleConnections();
      const app = built === null ? null : await built.catch(() => null);
      await app?.close();
      server.closeAllConnections();
    },
  };
}

async function listen(server: Server, config: Config): Promise<ListenerInfo> {
  const host = config.network.bind_address;
  const port = config.http_port;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => {
      const why = `cannot listen on ${host}:${port} (admin HTTP API, http_port): ${err.message}`;
      reject(new RobustMQError(ErrorCode.LISTEN_FAILED, why));
    };
    server.once("error", onError);
    server.listen({ host, port }, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const info = server.address() as AddressInfo;
  return { host: info.address, port: info.port };
}
