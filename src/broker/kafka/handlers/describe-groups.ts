/**
 * DescribeGroups v0-5, for kafka-consumer-groups.sh --describe and admin clients: state,
 * protocol and members (with their group instance ids from v4) of each group, as Kafka's
 * coordinator summarises them; from v3, on request, the authorized operations ([kafka_acl]). A
 * group the client may not see gets GROUP_AUTHORIZATION_FAILED with nothing else, as Kafka
 * answers (no state, operations omitted). A stable group's members come with their metadata for the
 * chosen protocol and their assignment; in any other state with neither, and with no protocol.
 * A group this node does not know is "Dead" with no members (Kafka's answer too), unless it has
 * committed offsets: then it is "Empty".
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { DescribeGroupsResponseDescribedGroup as Described } from "../../../protocol/kafka/generated/messages.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import { groupOperations, OPERATIONS_UNKNOWN } from "../authorized-operations.ts";
import { EMPTY_ASSIGNMENT, type Group } from "../groups/group.ts";
import type { ApiHandler, RequestContext } from "../handler-context.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.DescribeGroups>>;

function describe(context: RequestContext, groupId: string, withOperations: boolean): Described {
  const described: Described = {
    errorCode: KafkaError.NONE,
    groupId,
    groupState: "Dead",
    protocolType: "",
    protocolData: "",
    members: [],
    authorizedOperations: OPERATIONS_UNKNOWN,
  };
  if (groupId === "") return { ...described, errorCode: KafkaError.INVALID_GROUP_ID };
  if (!context.mayDescribeGroup(groupId)) {
    const errorCode = KafkaError.GROUP_AUTHORIZATION_FAILED;
    return { ...described, errorCode, groupState: "" };
  }
  if (withOperations) {
    described.authorizedOperations = groupOperations((action) => context.mayGroup(action, groupId));
  }
  const group = context.groups.coordinator.group(groupId);
  const hasOffsets = context.offsets.topicsOf(groupId).size > 0;
  if (group === undefined) return hasOffsets ? { ...described, groupState: "Empty" } : described;
  return { ...described, ...summary(group) };
}

function summary(group: Group): Omit<Described, "errorCode" | "groupId" | "authorizedOperations"> {
  const stable = group.state === "Stable";
  const protocolName = stable ? (group.protocolName ?? "") : "";
  return {
    groupState: group.state,
    protocolType: group.protocolType ?? "",
    protocolData: protocolName,
    members: [...group.members.values()].map((member) => ({
      memberId: member.id,
      groupInstanceId: member.instanceId,
      clientId: member.clientId,
      clientHost: member.clientHost,
      memberMetadata: stable ? group.chosenMetadata(member) : EMPTY_ASSIGNMENT,
      memberAssignment: stable ? member.assignment : EMPTY_ASSIGNMENT,
    })),
  };
}

export const describeGroupsHandler: ApiHandler<typeof ApiKey.DescribeGroups> = {
  apiKey: ApiKey.DescribeGroups,
  minVersion: 0,
  maxVersion: 5,
  async handle(context, request): Promise<Response> {
    const withOperations = request.includeAuthorizedOperations;
    const groups = request.groups.map((id) => describe(context, id, withOperations));
    return { throttleTimeMs: 0, groups };
  },
};
