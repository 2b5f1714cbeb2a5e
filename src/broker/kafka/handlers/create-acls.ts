/**
 * CreateAcls v0-3 (`kafka-acls.sh --add`, AdminClient.createAcls, kafkajs createAcls): each
 * binding becomes a [kafka_acl] API rule saying exactly the same, or is refused with
 * INVALID_REQUEST and the reason (security/acl/kafka-acl-bindings.ts); an identical rule that
 * exists already counts as created, as in Kafka. On disk and in force for every connection
 * before the answer. v0 creations are LITERAL (the schema's default).
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import type { ApiHandler } from "../handler-context.ts";
import { aclAccessRefusal, aclChanger } from "./acl-access.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.CreateAcls>>;

export const createAclsHandler: ApiHandler<typeof ApiKey.CreateAcls> = {
  apiKey: ApiKey.CreateAcls,
  minVersion: 0,
  maxVersion: 3,
  async handle(context, request): Promise<Response> {
    const refusal = aclAccessRefusal(context, "change");
    if (refusal !== null) {
      return { throttleTimeMs: 0, results: request.creations.map(() => refusal) };
    }
    const bindings = request.creations.map((creation) => ({
      resourceType: creation.resourceType,
      resourceName: creation.resourceName,
      patternType: creation.resourcePatternType,
      principal: creation.principal,
      host: creation.host,
      operation: creation.operation,
      permissionType: creation.permissionType,
    }));
    const outcomes = await context.aclBindings.create(bindings, aclChanger(context));
    return { throttleTimeMs: 0, results: outcomes };
  },
};
