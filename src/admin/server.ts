/**
 * The admin HTTP server (fastify) on `http_port`: `/health` (open), `/metrics` (Prometheus;
 * open unless admin.metrics_auth), `POST /api/v1/login`, and the bearer-token protected
 * `/api/v1/...` routes, and the built dashboard at `/` (static.ts). Routes for capabilities a
 * node does not run are not registered (no security layer: no users, ACL or ban routes).
 */

import swagger from "@fastify/swagger";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Bridge } from "../bridge/bridge.ts";
import type { KafkaBroker } from "../broker/kafka/kafka-broker.ts";
import type { MqttBroker } from "../broker/mqtt/broker.ts";
import { ErrorCode } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import type { AdminCredentials } from "./credentials.ts";
import {
  formatSchemaErrors,
  makeErrorHandler,
  makeFrameworkErrorHandler,
  sendError,
} from "./http-errors.ts";
import { ADMIN_BODY_BYTES_MAX, LOGINS_IN_FLIGHT_MAX, PATH_PARAM_CHARS_MAX } from "./limits.ts";
import { createMetricsRegistry } from "./metrics.ts";
import { registerDelayedRoutes } from "./routes-delayed.ts";
import { registerKafkaAclRoutes } from "./routes-kafka-acl.ts";
import { registerMqttRoutes } from "./routes-mqtt.ts";
import { type NodeInfo, registerNodeRoutes, uptimeS } from "./routes-node.ts";
import { registerObservabilityRoutes } from "./routes-observability.ts";
import { registerRuleRoutes } from "./routes-rules.ts";
import { registerSecurityRoutes } from "./routes-security.ts";
import { registerKafkaRoutes, registerMqttStorageRoutes } from "./routes-storage.ts";
import { registerTopicRoutes } from "./routes-topics.ts";
import { errorSchema, healthSchema, loginBody, loginReply } from "./schemas.ts";
import { registerDashboard } from "./static.ts";
import { bearerToken, TokenStore } from "./tokens.ts";
import { robustmqVersion } from "./version.ts";

export interface AdminServerOptions {
  node: NodeInfo;
  broker: MqttBroker | null;
  kafka?: KafkaBroker | null;
  /** The MQTT <-> Kafka bridge, when it runs: read by /metrics (robustmq_bridge_*). */
  bridge?: Bridge | null;
  credentials: AdminCredentials;
  logger: Logger;
  /** The built dashboard (default web/dist/); tests point it elsewhere. */
  dashboardDir?: string;
}

const UNAUTHORIZED_MESSAGE =
  "missing, unknown or expired bearer token: log in with POST /api/v1/login";

/** Builds the fastify app with every route; does not listen (tests may use inject()). */
export async function buildAdminApp(options: AdminServerOptions): Promise<FastifyInstance> {
  const { node, broker, logger } = options;
  const tokens = new TokenStore(node.config.admin.token_ttl_s);
  const app = Fastify({
    logger: false,
    bodyLimit: ADMIN_BODY_BYTES_MAX,
    routerOptions: { maxParamLength: PATH_PARAM_CHARS_MAX },
    ajv: { customOptions: { removeAdditional: false, allErrors: false } },
    schemaErrorFormatter: (errors, dataVar) => formatSchemaErrors(errors, dataVar),
    frameworkErrors: makeFrameworkErrorHandler(logger, PATH_PARAM_CHARS_MAX),
  });
  // Every body is JSON: fastify's text/plain parser would hand a route a string to refuse as
  // "must be object" (400) where the media type is what is wrong (415).
  app.removeContentTypeParser("text/plain");
  app.setErrorHandler(makeErrorHandler(logger));
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 404, ErrorCode.ADMIN_NOT_FOUND, `no route ${request.method} ${request.url}`),
  );
  await app.register(swagger, {
    openapi: {
      info: { title: "RobustMQ admin API", version: robustmqVersion() },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: [{ bearer: [] }],
    },
  });
  const requireToken = async (request: FastifyRequest, reply: FastifyReply) => {
    const token = bearerToken(request.headers.authorization);
    if (token !== null && tokens.valid(token)) return;
    reply.header("www-authenticate", 'Bearer realm="robustmq"');
    return sendError(reply, 401, ErrorCode.ADMIN_UNAUTHORIZED, UNAUTHORIZED_MESSAGE);
  };
  registerOpenRoutes(app, options, tokens, requireToken);
  registerDashboard(app, options.dashboardDir);
  await app.register(
    async (api) => {
      api.addHook("onRequest", requireToken);
      registerNodeRoutes(api, node);
      if (broker !== null) registerMqttRoutes(api, broker);
      if (broker !== null) registerTopicRoutes(api, broker);
      if (broker !== null) registerObservabilityRoutes(api, broker, logger);
      const security = broker?.security ?? null;
      if (security !== null) {
        registerSecurityRoutes(api, security, logger);
        registerKafkaAclRoutes(api, security, logger);
      }
      const rewrite = broker?.topicRewrite ?? null;
      const autoSubscribe = broker?.autoSubscribe ?? null;
      if (rewrite !== null && autoSubscribe !== null) {
        registerRuleRoutes(api, rewrite.rules, autoSubscribe.rules, logger);
      }
      const delayed = broker?.delayed ?? null;
      if (delayed !== null) registerDelayedRoutes(api, delayed, logger);
      const persistence = broker?.persistence ?? null;
      if (broker !== null && persistence !== null) {
        registerMqttStorageRoutes(api, persistence, () => countPersistent(broker));
      }
      if (options.kafka != null) registerKafkaRoutes(api, options.kafka, logger);
    },
    { prefix: "/api/v1" },
  );
  return app;
}

function countPersistent(broker: MqttBroker): number {
  let count = 0;
  for (const session of broker.sessions.values()) if (session.persistedExpiryS > 0) count++;
  return count;
}

type Hook = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

function registerOpenRoutes(
  app: FastifyInstance,
  options: AdminServerOptions,
  tokens: TokenStore,
  requireToken: Hook,
): void {
  const { node, broker, credentials, logger } = options;
  app.get(
    "/health",
    {
      schema: {
        summary: "Liveness",
        tags: ["node"],
        security: [],
        response: { 200: healthSchema },
      },
    },
    async () => ({ status: "ok", uptimeS: uptimeS(node.startedAtMs), version: robustmqVersion() }),
  );
  let loginsInFlight = 0;
  app.post<{ Body: { username: string; password: string } }>(
    "/api/v1/login",
    {
      schema: {
        summary: "Exchange the admin user name and password for a bearer token",
        tags: ["auth"],
        security: [],
        body: loginBody,
        response: { 200: loginReply, 400: errorSchema, 401: errorSchema, 429: errorSchema },
      },
    },
    async (request, reply) => {
      const { username, password } = request.body;
      if (loginsInFlight >= LOGINS_IN_FLIGHT_MAX) {
        return sendError(reply, 429, ErrorCode.ADMIN_BUSY, "too many logins at once; retry");
      }
      loginsInFlight++;
      let verified: boolean;
      try {
        verified = await credentials.verify(username, password);
      } finally {
        loginsInFlight--;
      }
      if (!verified) {
        logger.warn({ username, remote: request.ip }, "admin login failed");
        return sendError(reply, 401, ErrorCode.ADMIN_UNAUTHORIZED, "wrong user name or password");
      }
      const issued = tokens.issue();
      logger.info({ username, remote: request.ip }, "admin login");
      return { token: issued.token, expiresAt: new Date(issued.expiresAtMs).toISOString() };
    },
  );
  const registry = createMetricsRegistry(broker, options.kafka ?? null, options.bridge ?? null);
  app.get(
    "/metrics",
    {
      schema: { summary: "Prometheus metrics (text format)", tags: ["node"] },
      ...(node.config.admin.metrics_auth ? { onRequest: requireToken } : {}),
    },
    async (_request, reply) => {
      reply.header("content-type", registry.contentType);
      return registry.metrics();
    },
  );
}
