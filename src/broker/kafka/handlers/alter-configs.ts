/**
 * AlterConfigs v0-2 (kafkajs `admin.alterConfigs`, older admin clients): replaces a topic's
 * whole set of configs; those not named go back to their defaults (Kafka's semantics, which
 * is why Kafka deprecated it for IncrementalAlterConfigs). The checks, the per-resource
 * answers and the logging are shared with IncrementalAlterConfigs (config-alteration.ts).
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import { alterResources } from "../config-alteration.ts";
import type { ApiHandler } from "../handler-context.ts";
import { ConfigOperation } from "../topic-config-changes.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.AlterConfigs>>;

export const alterConfigsHandler: ApiHandler<typeof ApiKey.AlterConfigs> = {
  apiKey: ApiKey.AlterConfigs,
  minVersion: 0,
  maxVersion: 2,
  async handle(context, request): Promise<Response> {
    const resources = request.resources.map((resource) => ({
      resourceType: resource.resourceType,
      resourceName: resource.resourceName,
      configs: resource.configs.map(({ name, value }) => ({
        name,
        operation: ConfigOperation.SET,
        value,
      })),
    }));
    const responses = await alterResources(context, resources, request.validateOnly, "replace");
    return { throttleTimeMs: 0, responses };
  },
};
