/**
 * DescribeConfigs v0-4: a topic's configs (its own, else the defaults in force; alterable) and
 * this broker's settings under Kafka's names (config-entries.ts; read-only), for
 * kafka-configs.sh --describe, admin clients and management consoles. Other resource types get
 * INVALID_REQUEST.
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import { type ConfigEntry, ConfigSource, ResourceType, topicEntries } from "../config-entries.ts";
import type { ApiHandler, RequestContext } from "../handler-context.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.DescribeConfigs>>;
type Result = NonNullable<Response["results"]>[number];

export const describeConfigsHandler: ApiHandler<typeof ApiKey.DescribeConfigs> = {
  apiKey: ApiKey.DescribeConfigs,
  minVersion: 0,
  maxVersion: 4,
  async handle(context, request): Promise<Response> {
    const results = request.resources.map((resource): Result => {
      const { resourceType, resourceName, configurationKeys } = resource;
      const answer = (errorCode: number, errorMessage: string | null, entries: ConfigEntry[]) => ({
        errorCode,
        errorMessage,
        resourceType,
        resourceName,
        configs: select(entries, configurationKeys).map((entry) =>
          toResult(entry, resourceType === ResourceType.TOPIC, request.includeSynonyms, context),
        ),
      });
      const found = entriesOf(context, resourceType, resourceName);
      if (!Array.isArray(found)) return answer(found.errorCode, found.message, []);
      return answer(KafkaError.NONE, null, found);
    });
    return { throttleTimeMs: 0, results };
  },
};

/** The entries of a resource, or why there are none. */
function entriesOf(
  context: RequestContext,
  type: number,
  name: string,
): ConfigEntry[] | { errorCode: number; message: string } {
  const entries = context.settings.configEntries;
  if (type === ResourceType.TOPIC) {
    if (!context.mayDescribe(name)) {
      return { errorCode: KafkaError.TOPIC_AUTHORIZATION_FAILED, message: "Authorization failed." };
    }
    const topic = context.store.get(name);
    if (topic === undefined) {
      const message = `Topic ${name} does not exist`;
      return { errorCode: KafkaError.UNKNOWN_TOPIC_OR_PARTITION, message };
    }
    return topicEntries(entries, topic.metadata.configs);
  }
  if (type === ResourceType.BROKER) {
    // "" is the cluster-wide default; this node's own settings are those too.
    if (name === "" || name === String(context.settings.brokerId)) return [...entries.broker];
    const message = `Broker ${name} is not this node (${context.settings.brokerId})`;
    return { errorCode: KafkaError.INVALID_REQUEST, message };
  }
  const message = `Resource type ${type} has no configs here: only topics (2) and brokers (4)`;
  return { errorCode: KafkaError.INVALID_REQUEST, message };
}

function select(entries: ConfigEntry[], keys: string[] | null): ConfigEntry[] {
  if (keys === null || keys.length === 0) return entries;
  const wanted = new Set(keys);
  return entries.filter((entry) => wanted.has(entry.name));
}

/** `alterable`: a topic's configs are (AlterConfigs, IncrementalAlterConfigs); the broker's not. */
function toResult(
  entry: ConfigEntry,
  alterable: boolean,
  includeSynonyms: boolean,
  context: RequestContext,
) {
  return {
    name: entry.name,
    value: entry.value,
    readOnly: !alterable,
    // v0's "not set": true when the value is the node's default rather than the topic's own.
    isDefault: entry.source !== ConfigSource.DYNAMIC_TOPIC_CONFIG,
    configSource: entry.source,
    isSensitive: false,
    synonyms:
      includeSynonyms && context.version >= 1
        ? [{ name: entry.name, value: entry.value, source: entry.source }]
        : [],
    configType: entry.type,
    documentation: null,
  };
}
