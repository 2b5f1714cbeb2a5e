/**
 * DeleteGroups v0-2, for kafka-consumer-groups.sh --delete and admin clients: a group without
 * members goes, with every offset it committed. A group with members (or a join under way) is
 * NON_EMPTY_GROUP; one this node knows nothing of, neither members nor offsets, is
 * GROUP_ID_NOT_FOUND, as Kafka answers.
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import { deleteGroup, type GroupDeletion } from "../groups/delete-group.ts";
import type { ApiHandler, RequestContext } from "../handler-context.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.DeleteGroups>>;

const ERROR_CODES: Record<GroupDeletion, number> = {
  deleted: KafkaError.NONE,
  "non-empty": KafkaError.NON_EMPTY_GROUP,
  "not-found": KafkaError.GROUP_ID_NOT_FOUND,
};

async function deleteOne(context: RequestContext, groupId: string): Promise<number> {
  if (groupId === "") return KafkaError.INVALID_GROUP_ID;
  // Kafka's DELETE on the group; and, as OffsetDelete asks for each partition, READ on every
  // topic the group has offsets for.
  if (!context.mayGroup("admin", groupId)) return KafkaError.GROUP_AUTHORIZATION_FAILED;
  for (const topic of context.offsets.topicsOf(groupId).keys()) {
    if (!context.may("read", topic)) return KafkaError.GROUP_AUTHORIZATION_FAILED;
  }
  try {
    return ERROR_CODES[await deleteGroup(context.groups.coordinator, context.offsets, groupId)];
  } catch (err) {
    context.logger.warn({ err, groupId }, "deleting a group's committed offsets failed");
    return KafkaError.UNKNOWN_SERVER_ERROR;
  }
}

export const deleteGroupsHandler: ApiHandler<typeof ApiKey.DeleteGroups> = {
  apiKey: ApiKey.DeleteGroups,
  minVersion: 0,
  maxVersion: 2,
  async handle(context, request): Promise<Response> {
    const results = [];
    for (const groupId of new Set(request.groupsNames)) {
      results.push({ groupId, errorCode: await deleteOne(context, groupId) });
    }
    const deleted = results.filter((r) => r.errorCode === KafkaError.NONE).map((r) => r.groupId);
    if (deleted.length > 0) context.logger.info({ groups: deleted }, "consumer groups deleted");
    return { throttleTimeMs: 0, results };
  },
};
