/**
 * IncrementalAlterConfigs v0-1 (`kafka-configs.sh --alter`, Java's Admin.incrementalAlterConfigs):
 * SET, DELETE, APPEND and SUBTRACT on a topic's configs, the others left as they are. The
 * checks, the per-resource answers and the logging are shared with AlterConfigs
 * (config-alteration.ts).
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import { alterResources } from "../config-alteration.ts";
import type { ApiHandler } from "../handler-context.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.IncrementalAlterConfigs>>;

export const incrementalAlterConfigsHandler: ApiHandler<typeof ApiKey.IncrementalAlterConfigs> = {
  apiKey: ApiKey.IncrementalAlterConfigs,
  minVersion: 0,
  maxVersion: 1,
  async handle(context, request): Promise<Response> {
    const resources = request.resources.map((resource) => ({
      resourceType: resource.resourceType,
      resourceName: resource.resourceName,
      configs: resource.configs.map(({ name, configOperation, value }) => ({
        name,
        operation: configOperation,
        value,
      })),
    }));
    const validateOnly = request.validateOnly;
    const responses = await alterResources(context, resources, validateOnly, "incremental");
    return { throttleTimeMs: 0, responses };
  },
};
