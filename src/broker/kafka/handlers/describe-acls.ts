/**
 * DescribeAcls v0-3 (`kafka-acls.sh --list`, AdminClient.describeAcls, kafkajs describeAcls):
 * every [kafka_acl] rule, config file and API rules alike, as the Kafka bindings it amounts to,
 * filtered with Kafka's matching (ANY, MATCH, LITERAL, PREFIXED; null names, principals and
 * hosts match anything) and grouped by resource pattern. v0 filters are LITERAL (the schema's
 * default), as Kafka reads them.
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import { type AclBinding, invalidFilter } from "../../../security/acl/kafka-acl-bindings.ts";
import type { ApiHandler } from "../handler-context.ts";
import { aclAccessRefusal } from "./acl-access.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.DescribeAcls>>;
interface Resource {
  resourceType: number;
  resourceName: string;
  patternType: number;
  acls: Array<{ principal: string; host: string; operation: number; permissionType: number }>;
}

export const describeAclsHandler: ApiHandler<typeof ApiKey.DescribeAcls> = {
  apiKey: ApiKey.DescribeAcls,
  minVersion: 0,
  maxVersion: 3,
  async handle(context, request): Promise<Response> {
    const refusal = aclAccessRefusal(context, "describe");
    if (refusal !== null) return { throttleTimeMs: 0, ...refusal, resources: [] };
    const filter = {
      resourceType: request.resourceTypeFilter,
      resourceName: request.resourceNameFilter,
      patternType: request.patternTypeFilter,
      principal: request.principalFilter,
      host: request.hostFilter,
      operation: request.operation,
      permissionType: request.permissionType,
    };
    const problem = invalidFilter(filter);
    if (problem !== null) {
      context.logger.warn({ remote: context.remote, filter, problem }, "DescribeAcls refused");
      const errorMessage = `Invalid filter: ${problem}`;
      return {
        throttleTimeMs: 0,
        errorCode: KafkaError.INVALID_REQUEST,
        errorMessage,
        resources: [],
      };
    }
    const bindings = context.aclBindings.describe(filter);
    return {
      throttleTimeMs: 0,
      errorCode: KafkaError.NONE,
      errorMessage: null,
      resources: byResource(bindings),
    };
  },
};

/** Bindings grouped by resource pattern, as Kafka's DescribeAclsResponse.aclsResources. */
function byResource(bindings: readonly AclBinding[]): Resource[] {
  const resources = new Map<string, Resource>();
  for (const binding of bindings) {
    const { resourceType, resourceName, patternType, principal, host, operation, permissionType } =
      binding;
    const key = JSON.stringify([resourceType, resourceName, patternType]);
    let resource = resources.get(key);
    if (resource === undefined) {
      resource = { resourceType, resourceName, patternType, acls: [] };
      resources.set(key, resource);
    }
    resource.acls.push({ principal, host, operation, permissionType });
  }
  return [...resources.values()];
}
