/**
 * DeleteAcls v0-3 (`kafka-acls.sh --remove`, AdminClient.deleteAcls, kafkajs deleteAcls): per
 * filter, with Kafka's matching, the bindings it matched: removed (their rule deleted), or each
 * with the reason it was not. Config file rules cannot be deleted at run time (the admin API
 * refuses them the same way), and a topic's admin rule (CREATE, DELETE, ALTER and ALTER_CONFIGS together)
 * goes only when the request's filters match all three. v0 filters are LITERAL.
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import type { ApiHandler } from "../handler-context.ts";
import { aclAccessRefusal, aclChanger } from "./acl-access.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.DeleteAcls>>;

export const deleteAclsHandler: ApiHandler<typeof ApiKey.DeleteAcls> = {
  apiKey: ApiKey.DeleteAcls,
  minVersion: 0,
  maxVersion: 3,
  async handle(context, request): Promise<Response> {
    const refusal = aclAccessRefusal(context, "change");
    if (refusal !== null) {
      const filterResults = request.filters.map(() => ({ ...refusal, matchingAcls: [] }));
      return { throttleTimeMs: 0, filterResults };
    }
    const filters = request.filters.map((filter) => ({
      resourceType: filter.resourceTypeFilter,
      resourceName: filter.resourceNameFilter,
      patternType: filter.patternTypeFilter,
      principal: filter.principalFilter,
      host: filter.hostFilter,
      operation: filter.operation,
      permissionType: filter.permissionType,
    }));
    const results = await context.aclBindings.delete(filters, aclChanger(context));
    const filterResults = results.map(({ errorCode, errorMessage, deletions }) => ({
      errorCode,
      errorMessage,
      matchingAcls: deletions.map(({ binding, ...outcome }) => ({ ...outcome, ...binding })),
    }));
    return { throttleTimeMs: 0, filterResults };
  },
};
