/**
 * Admin routes over the MQTT broker: clients, sessions, subscriptions, retained messages and
 * counters. Registered only when the node runs the broker role.
 */
import type { FastifyInstance } from "fastify";
import type { MqttBroker } from "../broker/mqtt/broker.ts";
import type { Session } from "../broker/mqtt/session.ts";
import { BrokerStats } from "../broker/mqtt/stats.ts";
import { validateTopicFilter, validateTopicName } from "../broker/mqtt/topic.ts";
import { ErrorCode } from "../errors.ts";
import { sendError } from "./http-errors.ts";
import {
  boolSchema,
  clientIdParams,
  clientSchema,
  commonErrors,
  deletedReply,
  errorSchema,
  kickReply,
  pageOf,
  pageQuery,
  queryObject,
  queryStrSchema,
  retainedSchema,
  sessionSchema,
  statsSchema,
  subscriptionSchema,
  topicParams,
} from "./schemas.ts";
import {
  clientView,
  kickClient,
  liveConnection,
  matchingRetained,
  paginate,
  type SubscriptionView,
  sessionPage,
  sessionView,
  sortedSessions,
  subscriptionViews,
} from "./views.ts";

interface PageQuery {
  limit: number;
  offset: number;
}

const STAT_NAMES = Object.keys(new BrokerStats()) as Array<keyof BrokerStats>;

export function registerMqttRoutes(app: FastifyInstance, broker: MqttBroker): void {
  registerClientRoutes(app, broker);
  registerSessionRoutes(app, broker);
  registerRetainedRoutes(app, broker);
  registerStatsRoute(app, broker);
}

function registerClientRoutes(app: FastifyInstance, broker: MqttBroker): void {
  app.get<{
    Querystring: PageQuery & { clientId?: string; username?: string; connected?: boolean };
  }>(
    "/clients",
    {
      schema: {
        summary: "List MQTT clients (connected, and offline persistent sessions)",
        tags: ["mqtt"],
        querystring: queryObject({
          ...pageQuery,
          clientId: queryStrSchema,
          username: queryStrSchema,
          connected: boolSchema,
        }),
        response: { 200: pageOf(clientSchema), ...commonErrors },
      },
    },
    async (request) => {
      const { clientId, username, connected, limit, offset } = request.query;
      const keep = (s: Session) => {
        if (clientId !== undefined && s.clientId !== clientId) return false;
        const conn = liveConnection(s);
        if (connected !== undefined && (conn !== null) !== connected) return false;
        return username === undefined || conn?.username === username;
      };
      const page = sessionPage(broker, keep, offset, limit);
      return { data: page.data.map(clientView), meta: page.meta };
    },
  );
  app.get<{ Params: { clientId: string } }>(
    "/clients/:clientId",
    {
      schema: {
        summary: "One MQTT client",
        tags: ["mqtt"],
        params: clientIdParams,
        response: { 200: clientSchema, 404: errorSchema, ...commonErrors },
      },
    },
    async (request, reply) => {
      const session = broker.sessions.get(request.params.clientId);
      if (session === undefined) return clientNotFound(reply, request.params.clientId);
      return clientView(session);
    },
  );
  registerKickRoute(app, broker);
}

function registerKickRoute(app: FastifyInstance, broker: MqttBroker): void {
  app.delete<{ Params: { clientId: string } }>(
    "/clients/:clientId",
    {
      schema: {
        summary: "Kick a connected client (MQTT 5: DISCONNECT 0x98); its session stays",
        tags: ["mqtt"],
        params: clientIdParams,
        response: { 200: kickReply, 404: errorSchema, ...commonErrors },
      },
    },
    async (request, reply) => {
      const { clientId } = request.params;
      if (!kickClient(broker, clientId)) {
        return sendError(
          reply,
          404,
          ErrorCode.ADMIN_NOT_FOUND,
          `client "${clientId}" is not connected`,
        );
      }
      return { clientId, kicked: true };
    },
  );
}

function clientNotFound(reply: Parameters<typeof sendError>[0], clientId: string) {
  return sendError(reply, 404, ErrorCode.ADMIN_NOT_FOUND, `no client or session "${clientId}"`);
}

function registerSessionRoutes(app: FastifyInstance, broker: MqttBroker): void {
  app.get<{ Querystring: PageQuery & { clientId?: string; connected?: boolean } }>(
    "/sessions",
    {
      schema: {
        summary: "List sessions, including offline persistent ones with their expiry",
        tags: ["mqtt"],
        querystring: queryObject({ ...pageQuery, clientId: queryStrSchema, connected: boolSchema }),
        response: { 200: pageOf(sessionSchema), ...commonErrors },
      },
    },
    async (request) => {
      const { clientId, connected, limit, offset } = request.query;
      const keep = (s: Session) => {
        if (clientId !== undefined && s.clientId !== clientId) return false;
        return connected === undefined || (liveConnection(s) !== null) === connected;
      };
      const page = sessionPage(broker, keep, offset, limit);
      return { data: page.data.map(sessionView), meta: page.meta };
    },
  );
  app.get<{ Querystring: PageQuery & { clientId?: string; filter?: string } }>(
    "/subscriptions",
    {
      schema: {
        summary: "List subscriptions (filter: exact topic filter as subscribed)",
        tags: ["mqtt"],
        querystring: queryObject({
          ...pageQuery,
          clientId: queryStrSchema,
          filter: queryStrSchema,
        }),
        response: { 200: pageOf(subscriptionSchema), ...commonErrors },
      },
    },
    async (request) => {
      const { clientId, filter, limit, offset } = request.query;
      const sessions = sortedSessions(
        broker,
        (s) => clientId === undefined || s.clientId === clientId,
      );
      const subscriptions: SubscriptionView[] = [];
      for (const session of sessions) {
        for (const view of subscriptionViews(session)) {
          if (filter === undefined || view.filter === filter) subscriptions.push(view);
        }
      }
      return paginate(subscriptions, offset, limit);
    },
  );
}

function registerRetainedRoutes(app: FastifyInstance, broker: MqttBroker): void {
  app.get<{ Querystring: PageQuery & { filter?: string } }>(
    "/retained",
    {
      schema: {
        summary: "List retained messages (filter: an MQTT topic filter; none = all)",
        tags: ["mqtt"],
        querystring: queryObject({ ...pageQuery, filter: queryStrSchema }),
        response: { 200: pageOf(retainedSchema), ...commonErrors },
      },
    },
    async (request, reply) => {
      const { filter, limit, offset } = request.query;
      if (filter !== undefined && !validateTopicFilter(filter)) {
        const why = `querystring/filter ${JSON.stringify(filter)} is not a valid MQTT topic filter`;
        return sendError(reply, 400, ErrorCode.ADMIN_INVALID_REQUEST, why);
      }
      return paginate(matchingRetained(broker, filter ?? null), offset, limit);
    },
  );
  app.delete<{ Params: { topic: string } }>(
    "/retained/:topic",
    {
      schema: {
        summary: "Delete the retained message of a topic (URL-encoded: a%2Fb for a/b)",
        tags: ["mqtt"],
        params: topicParams,
        response: { 200: deletedReply, 404: errorSchema, ...commonErrors },
      },
    },
    async (request, reply) => {
      const { topic } = request.params;
      if (!validateTopicName(topic)) {
        const why = `params/topic ${JSON.stringify(topic)} is not a valid MQTT topic name`;
        return sendError(reply, 400, ErrorCode.ADMIN_INVALID_REQUEST, why);
      }
      if (!broker.deleteRetained(topic)) {
        return sendError(
          reply,
          404,
          ErrorCode.ADMIN_NOT_FOUND,
          `no retained message on "${topic}"`,
        );
      }
      broker.logger.info({ topic }, "retained message deleted by an administrator");
      return { topic, deleted: true };
    },
  );
}

function registerStatsRoute(app: FastifyInstance, broker: MqttBroker): void {
  app.get(
    "/stats",
    {
      schema: {
        summary: "Broker counters (BrokerStats) and current sizes",
        tags: ["mqtt"],
        response: { 200: statsSchema(STAT_NAMES), ...commonErrors },
      },
    },
    async () => {
      let inflight = 0;
      let queued = 0;
      for (const session of broker.sessions.values()) {
        inflight += session.inflightCount;
        queued += session.queueLength;
      }
      const counters: Record<string, number> = {};
      for (const name of STAT_NAMES) counters[name] = broker.stats[name];
      return {
        connections: broker.connectedClients,
        sessions: broker.sessions.size,
        subscriptions: broker.router.subscriptionCount,
        retained: broker.retained.size,
        inflight,
        queued,
        delayed: broker.delayed?.size ?? 0,
        counters,
      };
    },
  );
}
