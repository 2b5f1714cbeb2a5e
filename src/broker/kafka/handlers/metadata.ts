/**
 * Metadata v1-8: this node is the only broker, the controller, and the leader of every partition
 * (leader epoch 0, replicas and ISR = itself). Topics a client names that do not exist are created
 * when auto-create is on and the request allows it (v4+ carries the client's wish).
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import {
  clusterOperations,
  OPERATIONS_UNKNOWN,
  topicOperations,
} from "../authorized-operations.ts";
import type { ApiHandler, RequestContext } from "../handler-context.ts";
import { topicNameProblem } from "../topic-names.ts";
import type { KafkaTopic } from "../topic-store.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.Metadata>>;
type TopicResponse = NonNullable<Response["topics"]>[number];

/** The address clients should use: configured, or where this connection arrived. */
export function advertisedAddress(context: RequestContext): { host: string; port: number } {
  const { advertisedHost, advertisedPort } = context.settings;
  const local = context.localAddress.host.replace(/^::ffff:/, "");
  return {
    host: advertisedHost === "" ? local : advertisedHost,
    port: advertisedPort === 0 ? context.localAddress.port : advertisedPort,
  };
}

/** `withOps`: the client asked for the topic's authorized operations (v8). */
function describeTopic(
  context: RequestContext,
  topic: KafkaTopic,
  withOps: boolean,
): TopicResponse {
  const brokerId = context.settings.brokerId;
  const name = topic.metadata.name;
  return {
    errorCode: KafkaError.NONE,
    name: topic.metadata.name,
    topicId: topic.metadata.topicId,
    isInternal: false,
    partitions: topic.logs.map((_, partitionIndex) => ({
      errorCode: KafkaError.NONE,
      partitionIndex,
      leaderId: brokerId,
      leaderEpoch: 0,
      replicaNodes: [brokerId],
      isrNodes: [brokerId],
      offlineReplicas: [],
    })),
    topicAuthorizedOperations: withOps
      ? topicOperations((action) => context.may(action, name))
      : OPERATIONS_UNKNOWN,
  };
}

function topicError(name: string | null, errorCode: number): TopicResponse {
  return { errorCode, name, isInternal: false, partitions: [] };
}

async function lookUp(
  context: RequestContext,
  name: string | null,
  autoCreate: boolean,
  ops: boolean,
): Promise<TopicResponse> {
  const existing = name === null ? undefined : context.store.get(name);
  if (name !== null && !context.mayDescribe(name)) {
    return topicError(name, KafkaError.TOPIC_AUTHORIZATION_FAILED);
  }
  if (existing !== undefined) return describeTopic(context, existing, ops);
  if (topicNameProblem(name) !== null) return topicError(name, KafkaError.INVALID_TOPIC_EXCEPTION);
  if (!autoCreate || name === null) return topicError(name, KafkaError.UNKNOWN_TOPIC_OR_PARTITION);
  // Creating a topic by naming it is an administrative act, as in Kafka (CREATE).
  if (!context.may("admin", name)) return topicError(name, KafkaError.TOPIC_AUTHORIZATION_FAILED);
  try {
    const partitions = context.settings.defaultPartitions;
    const { topic } = await context.store.create(name, partitions, {}, "reuse");
    return describeTopic(context, topic, ops);
  } catch (err) {
    context.logger.error({ err, topic: name }, "Kafka topic auto-create failed");
    return topicError(name, KafkaError.LEADER_NOT_AVAILABLE);
  }
}

export const metadataHandler: ApiHandler<typeof ApiKey.Metadata> = {
  apiKey: ApiKey.Metadata,
  // v0 for old clients (kafka-python 2.0 probes the broker with it); Kafka 3 serves it too.
  minVersion: 0,
  maxVersion: 8,
  async handle(context, request): Promise<Response> {
    const { host, port } = advertisedAddress(context);
    const topicOps = request.includeTopicAuthorizedOperations;
    const autoCreate =
      context.settings.autoCreateTopics && (context.version < 4 || request.allowAutoTopicCreation);
    let topics: TopicResponse[];
    // In v0 an empty list, not null, asks for every topic.
    const asked = request.topics;
    if (asked === null || (context.version === 0 && asked.length === 0)) {
      // All topics means all this client may see: the others are left out, as Kafka does.
      topics = context.store.names().flatMap((name) => {
        const topic = context.store.get(name);
        if (topic === undefined || !context.mayDescribe(name)) return [];
        return [describeTopic(context, topic, topicOps)];
      });
    } else {
      topics = [];
      // A name asked twice is answered once, as Kafka does (it reads the request as a set).
      for (const name of new Set(asked.map((t) => t.name))) {
        topics.push(await lookUp(context, name, autoCreate, topicOps));
      }
    }
    return {
      throttleTimeMs: 0,
      brokers: [{ nodeId: context.settings.brokerId, host, port, rack: null }],
      clusterId: context.settings.clusterId,
      controllerId: context.settings.brokerId,
      topics,
      clusterAuthorizedOperations: request.includeClusterAuthorizedOperations
        ? clusterOperations(context.sasl.superuser)
        : OPERATIONS_UNKNOWN,
    };
  },
};
