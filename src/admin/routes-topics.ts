/**
 * GET /api/v1/topics: the topic filters subscribed on the node, with their subscriber counts
 * and retained flag (topics.ts). Computed per request from the sessions' subscriptions, which
 * are exactly what the router holds; the router itself is not touched. Broker role only.
 */
import type { FastifyInstance } from "fastify";
import type { MqttBroker } from "../broker/mqtt/broker.ts";
import { validateTopicName } from "../broker/mqtt/topic.ts";
import { ErrorCode } from "../errors.ts";
import { sendError } from "./http-errors.ts";
import { commonErrors, pageOf, pageQuery, queryObject, queryStrSchema } from "./schemas.ts";
import { byFilter, TopicTally } from "./topics.ts";
import { sortedPage } from "./views.ts";

const shareGroupSchema = {
  type: "object",
  properties: { group: { type: "string" }, members: { type: "integer" } },
  required: ["group", "members"],
  additionalProperties: false,
} as const;

export const topicSchema = {
  type: "object",
  description: "retained is null for a wildcard filter (it names no single topic)",
  properties: {
    filter: { type: "string" },
    wildcard: { type: "boolean" },
    subscribers: { type: "integer" },
    directSubscribers: { type: "integer" },
    shareGroups: { type: "array", items: shareGroupSchema },
    retained: { type: ["boolean", "null"] },
  },
  required: ["filter", "wildcard", "subscribers", "directSubscribers", "shareGroups", "retained"],
  additionalProperties: false,
} as const;

interface TopicsQuery {
  limit: number;
  offset: number;
  match?: string;
  filter?: string;
}

/** Every subscription of every session, online or offline, counted by filter. */
function tallyOf(broker: MqttBroker): TopicTally {
  const tally = new TopicTally();
  for (const session of broker.sessions.values()) {
    for (const sub of session.subscriptionValues()) tally.add(sub);
  }
  return tally;
}

/** A live retained message on `topic` (expired ones wait for lazy deletion, so skip them). */
function hasLiveRetained(broker: MqttBroker, topic: string, nowMs: number): boolean {
  const message = broker.retained.get(topic);
  return message !== undefined && !message.isExpired(nowMs);
}

export function registerTopicRoutes(app: FastifyInstance, broker: MqttBroker): void {
  app.get<{ Querystring: TopicsQuery }>(
    "/topics",
    {
      schema: {
        summary:
          "List subscribed topic filters with subscriber counts (match: a topic name; filter: text)",
        tags: ["mqtt"],
        querystring: queryObject({ ...pageQuery, match: queryStrSchema, filter: queryStrSchema }),
        response: { 200: pageOf(topicSchema), ...commonErrors },
      },
    },
    async (request, reply) => {
      const { match, filter, limit, offset } = request.query;
      if (match !== undefined && !validateTopicName(match)) {
        const why = `querystring/match ${JSON.stringify(match)} is not a valid MQTT topic name`;
        return sendError(reply, 400, ErrorCode.ADMIN_INVALID_REQUEST, why);
      }
      const nowMs = Date.now();
      const hasRetained = (topic: string) => hasLiveRetained(broker, topic, nowMs);
      const tally = tallyOf(broker);
      const page = sortedPage(tally.names({ match, filter }), byFilter, offset, limit);
      return { data: page.data.map((name) => tally.view(name, hasRetained)), meta: page.meta };
    },
  );
}
