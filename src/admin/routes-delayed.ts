/**
 * Admin routes over delayed publish (`$delayed/{seconds}/{topic}`, src/broker/mqtt/delayed/):
 * list the waiting messages in due order, delete one before it is published. Registered only
 * when the node runs the broker role with mqtt_delayed enabled.
 */
import type { FastifyInstance } from "fastify";
import type { DelayedPublisher } from "../broker/mqtt/delayed/publisher.ts";
import type { DelayedEntry } from "../broker/mqtt/delayed/schedule.ts";
import { ErrorCode } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import { sendError } from "./http-errors.ts";
import {
  commonErrors,
  errorSchema,
  pageOf,
  pageQuery,
  queryObject,
  queryStrSchema,
} from "./schemas.ts";
import { paginate } from "./views.ts";

/** Ids are decimal integers; the API shows them as strings (opaque to clients). */
const ID_PATTERN = "^[1-9][0-9]{0,14}$";

const str = { type: "string" } as const;
const int = { type: "integer" } as const;
const bool = { type: "boolean" } as const;

function object(properties: Record<string, unknown>): Record<string, unknown> {
  return {
    type: "object",
    properties,
    required: Object.keys(properties),
    additionalProperties: false,
  };
}

export const delayedSchema = object({
  id: str,
  topic: str,
  qos: int,
  retain: bool,
  payloadBytes: int,
  publishedAtMs: int,
  dueAtMs: int,
  clientId: str,
});
const delayedIdParams = object({ id: { type: "string", pattern: ID_PATTERN } });
const delayedDeletedReply = object({ id: str, deleted: bool });

/** A waiting message as the API shows it: never its payload. */
export interface DelayedReply {
  id: string;
  topic: string;
  qos: number;
  retain: boolean;
  payloadBytes: number;
  publishedAtMs: number;
  dueAtMs: number;
  /** The publisher, kept for No Local. */
  clientId: string;
}

export function delayedReply(entry: DelayedEntry): DelayedReply {
  return {
    id: String(entry.id),
    topic: entry.topic,
    qos: entry.qos,
    retain: entry.retain,
    payloadBytes: entry.payloadBytes,
    publishedAtMs: entry.publishedAtMs,
    dueAtMs: entry.dueAtMs,
    clientId: entry.origin,
  };
}

interface ListQuery {
  limit: number;
  offset: number;
  clientId?: string;
  topic?: string;
}

export function registerDelayedRoutes(
  app: FastifyInstance,
  delayed: DelayedPublisher,
  logger: Logger,
): void {
  app.get<{ Querystring: ListQuery }>(
    "/delayed",
    {
      schema: {
        summary: "Delayed messages waiting, earliest due first (clientId, topic: exact match)",
        tags: ["mqtt"],
        querystring: queryObject({ ...pageQuery, clientId: queryStrSchema, topic: queryStrSchema }),
        response: { 200: pageOf(delayedSchema), ...commonErrors },
      },
    },
    async (request) => {
      const { clientId, topic, limit, offset } = request.query;
      const entries = delayed
        .list()
        .filter(
          (e) =>
            (clientId === undefined || e.origin === clientId) &&
            (topic === undefined || e.topic === topic),
        );
      const page = paginate(entries, offset, limit);
      return { data: page.data.map(delayedReply), meta: page.meta };
    },
  );
  app.delete<{ Params: { id: string } }>(
    "/delayed/:id",
    {
      schema: {
        summary: "Delete a waiting delayed message: it is never published",
        tags: ["mqtt"],
        params: delayedIdParams,
        response: { 200: delayedDeletedReply, 404: errorSchema, ...commonErrors },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      if (!(await delayed.delete(Number(id)))) {
        const why = `no delayed message ${id} is waiting (published, deleted or never accepted)`;
        return sendError(reply, 404, ErrorCode.ADMIN_NOT_FOUND, why);
      }
      logger.info({ id }, "delayed message deleted by an administrator");
      return { id, deleted: true };
    },
  );
}
