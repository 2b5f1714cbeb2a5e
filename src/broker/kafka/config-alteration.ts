/**
 * The work AlterConfigs and IncrementalAlterConfigs share: each resource of a request answered
 * on its own, in Kafka's order of checks. A resource named twice gets INVALID_REQUEST (both
 * times), as do duplicate config names, null values and unknown operations; then by type:
 *
 *   topic (2)         `admin` on the topic ([kafka_acl]), else TOPIC_AUTHORIZATION_FAILED; an
 *                     unknown topic UNKNOWN_TOPIC_OR_PARTITION; configs validated as at
 *                     CreateTopics (INVALID_CONFIG, nothing applied); then persisted and applied
 *                     to the live partition logs (TopicStore.reconfigure), unless validate_only.
 *   broker (4)        this node ("" or its id): every setting comes from robustmq.toml, there
 *                     are no dynamic broker configs, so setting one gets Kafka's answer to a
 *                     config that cannot be updated dynamically (INVALID_REQUEST); removing
 *                     one is removing what is not there, which Kafka accepts.
 *   broker logger (8) log levels come from robustmq.toml too: INVALID_REQUEST.
 *   others            INVALID_REQUEST.
 *
 * Every refusal and every change is logged with the topic, the change and the user.
 */
import { KafkaError } from "../../protocol/kafka/error-codes.ts";
import { ResourceType } from "./config-entries.ts";
import type { RequestContext } from "./handler-context.ts";
import {
  type AlterationResult,
  alterationRequestProblem,
  type ConfigAlteration,
  ConfigOperation,
  configDifference,
  incrementalConfigs,
  replacedConfigs,
} from "./topic-config-changes.ts";
import { topicNameProblem } from "./topic-names.ts";
import { UnknownTopicError } from "./topic-store.ts";

/** Kafka's ConfigResource.Type code of a broker's loggers (KIP-412). */
const BROKER_LOGGER = 8;

/** "replace": AlterConfigs; "incremental": IncrementalAlterConfigs. */
export type AlterationMode = "replace" | "incremental";

export interface ResourceRequest {
  readonly resourceType: number;
  readonly resourceName: string;
  readonly configs: readonly ConfigAlteration[];
}

export interface ResourceOutcome {
  errorCode: number;
  errorMessage: string | null;
  resourceType: number;
  resourceName: string;
}

/** The answer for each resource, in request order. */
export async function alterResources(
  context: RequestContext,
  resources: readonly ResourceRequest[],
  validateOnly: boolean,
  mode: AlterationMode,
): Promise<ResourceOutcome[]> {
  const counts = new Map<string, number>();
  const keyOf = (r: ResourceRequest) => `${r.resourceType}/${r.resourceName}`;
  for (const resource of resources) {
    counts.set(keyOf(resource), (counts.get(keyOf(resource)) ?? 0) + 1);
  }
  const outcomes: ResourceOutcome[] = [];
  // One at a time: each topic's change is on disk before the next is looked at.
  for (const resource of resources) {
    let outcome: ResourceOutcome;
    if ((counts.get(keyOf(resource)) ?? 0) > 1) {
      outcome = answer(
        resource,
        KafkaError.INVALID_REQUEST,
        "Each resource must appear at most once.",
      );
    } else {
      outcome = await alterResource(context, resource, validateOnly, mode);
    }
    if (outcome.errorCode !== KafkaError.NONE) logRefusal(context, resource, outcome);
    outcomes.push(outcome);
  }
  return outcomes;
}

async function alterResource(
  context: RequestContext,
  resource: ResourceRequest,
  validateOnly: boolean,
  mode: AlterationMode,
): Promise<ResourceOutcome> {
  const problem = alterationRequestProblem(resource.configs);
  if (problem !== null) return answer(resource, KafkaError.INVALID_REQUEST, problem);
  const type = resource.resourceType;
  if (type === ResourceType.TOPIC) return alterTopic(context, resource, validateOnly, mode);
  if (type === ResourceType.BROKER) return brokerOutcome(context, resource, mode);
  if (type === BROKER_LOGGER && mode === "incremental") {
    const message =
      "Log levels cannot be changed dynamically: this broker takes its log level from robustmq.toml ([log] level, or --log-level).";
    return answer(resource, KafkaError.INVALID_REQUEST, message);
  }
  // AlterConfigs has never taken broker loggers: Kafka answers them as unknown too.
  const message = `Unknown resource type ${type}: only topics (2) have alterable configs here.`;
  return answer(resource, KafkaError.INVALID_REQUEST, message);
}

async function alterTopic(
  context: RequestContext,
  resource: ResourceRequest,
  validateOnly: boolean,
  mode: AlterationMode,
): Promise<ResourceOutcome> {
  const name = resource.resourceName;
  // Authorization first, as Kafka: a refused client learns nothing about the topic.
  if (!context.may("admin", name)) {
    return answer(resource, KafkaError.TOPIC_AUTHORIZATION_FAILED, "Authorization failed.");
  }
  const nameProblem = topicNameProblem(name);
  if (nameProblem !== null)
    return answer(resource, KafkaError.INVALID_TOPIC_EXCEPTION, nameProblem);
  const unknown = () =>
    answer(resource, KafkaError.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${name}' does not exist.`);
  const topic = context.store.get(name);
  if (topic === undefined) return unknown();
  const defaults = context.settings.configEntries.topicDefaults;
  const change = (current: Readonly<Record<string, string>>): AlterationResult =>
    mode === "replace"
      ? replacedConfigs(resource.configs)
      : incrementalConfigs(current, resource.configs, defaults);
  if (validateOnly) {
    const result = change(topic.metadata.configs);
    return result.ok
      ? answer(resource, KafkaError.NONE, null)
      : answer(resource, result.errorCode, result.message);
  }
  try {
    const { before, result } = await context.store.reconfigure(name, change);
    if (!result.ok) return answer(resource, result.errorCode, result.message);
    context.logger.info(
      { topic: name, ...configDifference(before, result.configs), ...who(context) },
      "Kafka topic configs altered",
    );
    return answer(resource, KafkaError.NONE, null);
  } catch (err) {
    if (err instanceof UnknownTopicError) return unknown();
    context.logger.error({ err, topic: name }, "Kafka topic configs could not be altered");
    return answer(
      resource,
      KafkaError.KAFKA_STORAGE_ERROR,
      "The configs could not be written to disk.",
    );
  }
}

/** This node's own settings are all static: only a change that sets nothing succeeds. */
function brokerOutcome(
  context: RequestContext,
  resource: ResourceRequest,
  mode: AlterationMode,
): ResourceOutcome {
  const name = resource.resourceName;
  const brokerId = context.settings.brokerId;
  // Kafka's checks and words (ConfigAdminManager.validateResourceNameIsCurrentNodeId).
  if (name !== "" && !/^-?\d+$/.test(name)) {
    return answer(
      resource,
      KafkaError.INVALID_REQUEST,
      `Node id must be an integer, but it is: ${name}`,
    );
  }
  if (name !== "" && Number(name) !== brokerId) {
    const message = `Unexpected broker id, expected ${brokerId}, but received ${name}`;
    return answer(resource, KafkaError.INVALID_REQUEST, message);
  }
  const setting = resource.configs
    .filter((c) => mode === "replace" || c.operation !== ConfigOperation.DELETE)
    .map((c) => c.name);
  if (setting.length === 0) return answer(resource, KafkaError.NONE, null);
  const message = `Cannot update these configs dynamically: ${setting.join(", ")}. This broker takes its settings from robustmq.toml and has no dynamic broker configs; change them there and restart.`;
  return answer(resource, KafkaError.INVALID_REQUEST, message);
}

function answer(
  resource: ResourceRequest,
  errorCode: number,
  errorMessage: string | null,
): ResourceOutcome {
  return {
    errorCode,
    errorMessage,
    resourceType: resource.resourceType,
    resourceName: resource.resourceName,
  };
}

/** Who asked, for the log lines: the authenticated user (null: anonymous) and the client. */
function who(context: RequestContext) {
  return { user: context.sasl.principal, clientId: context.clientId, remote: context.remote };
}

function logRefusal(context: RequestContext, resource: ResourceRequest, outcome: ResourceOutcome) {
  context.logger.warn(
    {
      resourceType: resource.resourceType,
      resourceName: resource.resourceName,
      configs: resource.configs.map((c) => c.name),
      errorCode: outcome.errorCode,
      reason: outcome.errorMessage,
      ...who(context),
    },
    "Kafka config alteration refused",
  );
}
