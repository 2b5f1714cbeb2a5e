/**
 * ListGroups v0-2, for kafka-consumer-groups.sh --list and admin clients: the groups with
 * members, and those that only have committed offsets (clients that assign partitions
 * themselves), listed with an empty protocol type as Kafka lists them.
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import type { ApiHandler } from "../handler-context.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.ListGroups>>;

export const listGroupsHandler: ApiHandler<typeof ApiKey.ListGroups> = {
  apiKey: ApiKey.ListGroups,
  minVersion: 0,
  maxVersion: 2,
  async handle(context): Promise<Response> {
    const coordinator = context.groups.coordinator;
    const protocolTypes = new Map<string, string>();
    for (const groupId of context.offsets.groupIds()) protocolTypes.set(groupId, "");
    for (const groupId of coordinator.groupIds()) {
      const group = coordinator.group(groupId);
      if (group === undefined || (group.state === "Empty" && !protocolTypes.has(groupId))) continue;
      protocolTypes.set(groupId, group.protocolType ?? "");
    }
    return {
      throttleTimeMs: 0,
      errorCode: KafkaError.NONE,
      groups: [...protocolTypes].map(([groupId, protocolType]) => ({ groupId, protocolType })),
    };
  },
};
