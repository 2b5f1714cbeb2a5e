/**
 * ListGroups v0-4, for kafka-consumer-groups.sh --list [--state] and admin clients: the groups
 * with members, and those that only have committed offsets (clients that assign partitions
 * themselves), listed with an empty protocol type and the state "Empty" as Kafka lists them.
 * From v4 each group comes with its state, and a non-empty states filter keeps only the groups
 * in one of those states.
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import type { ApiHandler } from "../handler-context.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.ListGroups>>;

interface Listed {
  groupId: string;
  protocolType: string;
  groupState: string;
}

export const listGroupsHandler: ApiHandler<typeof ApiKey.ListGroups> = {
  apiKey: ApiKey.ListGroups,
  minVersion: 0,
  maxVersion: 4,
  async handle(context, request): Promise<Response> {
    const coordinator = context.groups.coordinator;
    const listed = new Map<string, Listed>();
    for (const groupId of context.offsets.groupIds()) {
      listed.set(groupId, { groupId, protocolType: "", groupState: "Empty" });
    }
    for (const groupId of coordinator.groupIds()) {
      const group = coordinator.group(groupId);
      if (group === undefined || (group.state === "Empty" && !listed.has(groupId))) continue;
      listed.set(groupId, {
        groupId,
        protocolType: group.protocolType ?? "",
        groupState: group.state,
      });
    }
    const states = new Set(request.statesFilter ?? []);
    // Only the groups this client may see ([kafka_acl]), as Kafka lists them.
    const groups = [...listed.values()].filter(
      (g) => (states.size === 0 || states.has(g.groupState)) && context.mayDescribeGroup(g.groupId),
    );
    return { throttleTimeMs: 0, errorCode: KafkaError.NONE, groups };
  },
};
