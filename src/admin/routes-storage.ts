/**
 * Admin routes about stored data: the MQTT message log (durable sessions) and the Kafka topics
 * with their partition logs and segments. Registered only for what the node runs.
 */
import type { FastifyInstance } from "fastify";
import { deleteGroup } from "../broker/kafka/groups/delete-group.ts";
import type { KafkaBroker } from "../broker/kafka/kafka-broker.ts";
import type { KafkaTopic } from "../broker/kafka/topic-store.ts";
import type { MqttPersistence } from "../broker/mqtt/persistence/persistence.ts";
import { ErrorCode } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import type { PartitionLog } from "../storage/log/index.ts";
import { sendError } from "./http-errors.ts";
import {
  commonErrors,
  errorSchema,
  kafkaGroupSchema,
  kafkaTopicSchema,
  kafkaTopicSummarySchema,
  mqttStorageSchema,
} from "./schemas.ts";

function logView(log: PartitionLog) {
  return {
    logStartOffset: log.logStartOffset,
    logEndOffset: log.logEndOffset,
    sizeBytes: log.sizeBytes,
    segments: log.segments(),
  };
}

export function registerMqttStorageRoutes(
  app: FastifyInstance,
  persistence: MqttPersistence,
  persistentSessions: () => number,
): void {
  app.get(
    "/storage/mqtt",
    {
      schema: {
        summary: "The MQTT message log: offsets, segments, checkpoints, failed appends",
        tags: ["storage"],
        response: { 200: mqttStorageSchema, ...commonErrors },
      },
    },
    async () => {
      const checkpoint = persistence.lastCheckpoint;
      return {
        ...logView(persistence.log),
        fsyncPolicy: persistence.log.options.fsync_policy,
        appendFailures: persistence.failedAppends,
        persistentSessions: persistentSessions(),
        lastCheckpointAt: checkpoint === null ? null : new Date(checkpoint.atMs).toISOString(),
        replayFromOffset: checkpoint?.fromOffset ?? null,
      };
    },
  );
}

function topicSummary(topic: KafkaTopic) {
  let sizeBytes = 0;
  let records = 0;
  for (const log of topic.logs) {
    sizeBytes += log.sizeBytes;
    records += log.logEndOffset - log.logStartOffset;
  }
  const { name, topicId, partitions, createdAtMs } = topic.metadata;
  return {
    name,
    topicId,
    partitions,
    sizeBytes,
    records,
    createdAt: new Date(createdAtMs).toISOString(),
  };
}

/** A group's committed offsets against each partition's end: what its consumers have not read. */
function groupView(kafka: KafkaBroker, groupId: string) {
  const group = kafka.groups.coordinator.group(groupId);
  const partitions = [];
  let lag = 0;
  for (const [topic, offsets] of kafka.offsets.topicsOf(groupId)) {
    const logs = kafka.store.get(topic)?.logs;
    for (const [partition, committed] of offsets) {
      const logEndOffset = logs?.[partition]?.logEndOffset ?? 0;
      const partitionLag = Math.max(0, logEndOffset - Number(committed.offset));
      lag += partitionLag;
      partitions.push({
        topic,
        partition,
        committedOffset: Number(committed.offset),
        logEndOffset,
        lag: partitionLag,
      });
    }
  }
  partitions.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  return {
    groupId,
    state: group?.state ?? "Empty",
    generationId: group?.generationId ?? 0,
    protocol: group?.protocolName ?? null,
    members: group?.members.size ?? 0,
    lag,
    partitions,
  };
}

export function registerKafkaRoutes(
  app: FastifyInstance,
  kafka: KafkaBroker,
  logger: Logger,
): void {
  app.get(
    "/kafka/groups",
    {
      schema: {
        summary: "Kafka consumer groups: state, members, committed offsets and lag",
        tags: ["kafka"],
        response: { 200: { type: "array", items: kafkaGroupSchema }, ...commonErrors },
      },
    },
    async () => {
      const ids = new Set([...kafka.groups.coordinator.groupIds(), ...kafka.offsets.groupIds()]);
      return [...ids].sort().map((id) => groupView(kafka, id));
    },
  );
  app.delete<{ Params: { id: string } }>(
    "/kafka/groups/:id",
    {
      schema: {
        summary: "Delete a consumer group without members, with its committed offsets",
        tags: ["kafka"],
        params: {
          type: "object",
          properties: { id: { type: "string", minLength: 1, maxLength: 255 } },
          required: ["id"],
        },
        response: {
          200: {
            type: "object",
            properties: { groupId: { type: "string" }, deleted: { type: "boolean" } },
            required: ["groupId", "deleted"],
          },
          404: errorSchema,
          409: errorSchema,
          ...commonErrors,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const outcome = await deleteGroup(kafka.groups.coordinator, kafka.offsets, id);
      if (outcome === "not-found") {
        return sendError(reply, 404, ErrorCode.ADMIN_NOT_FOUND, `no consumer group "${id}"`);
      }
      if (outcome === "non-empty") {
        const why = `consumer group "${id}" has members; it can be deleted once they have left`;
        return sendError(reply, 409, ErrorCode.ADMIN_CONFLICT, why);
      }
      logger.info({ groupId: id }, "consumer group deleted by an administrator");
      return { groupId: id, deleted: true };
    },
  );
  app.get(
    "/kafka/topics",
    {
      schema: {
        summary: "Kafka topics: partitions, bytes and records held",
        tags: ["kafka"],
        response: {
          200: { type: "array", items: kafkaTopicSummarySchema },
          ...commonErrors,
        },
      },
    },
    async () => {
      const topics: ReturnType<typeof topicSummary>[] = [];
      for (const name of kafka.store.names()) {
        const topic = kafka.store.get(name);
        if (topic !== undefined) topics.push(topicSummary(topic));
      }
      return topics;
    },
  );
  app.get<{ Params: { name: string } }>(
    "/kafka/topics/:name",
    {
      schema: {
        summary: "One Kafka topic: configuration and each partition's offsets and segments",
        tags: ["kafka"],
        params: {
          type: "object",
          properties: { name: { type: "string", minLength: 1, maxLength: 249 } },
          required: ["name"],
        },
        response: { 200: kafkaTopicSchema, 404: errorSchema, ...commonErrors },
      },
    },
    async (request, reply) => {
      const topic = kafka.store.get(request.params.name);
      if (topic === undefined) {
        return sendError(
          reply,
          404,
          ErrorCode.ADMIN_NOT_FOUND,
          `no Kafka topic "${request.params.name}"`,
        );
      }
      return {
        ...topicSummary(topic),
        configs: topic.metadata.configs,
        partitionLogs: topic.logs.map((log, partition) => ({ partition, ...logView(log) })),
      };
    },
  );
}
