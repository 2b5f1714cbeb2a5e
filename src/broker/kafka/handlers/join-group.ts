/**
 * JoinGroup v0-5, answered when the group's join completes (group-coordinator.ts). v0 has no
 * rebalance timeout: the session timeout stands in, as in Kafka. v4+ dynamic members without an
 * id get MEMBER_ID_REQUIRED with one; v5 static members (a group instance id) get theirs at once.
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import type { ApiHandler } from "../handler-context.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.JoinGroup>>;

export const joinGroupHandler: ApiHandler<typeof ApiKey.JoinGroup> = {
  apiKey: ApiKey.JoinGroup,
  minVersion: 0,
  maxVersion: 5,
  async handle(context, request): Promise<Response> {
    if (!context.mayGroup("read", request.groupId)) {
      const errorCode = KafkaError.GROUP_AUTHORIZATION_FAILED;
      return {
        throttleTimeMs: 0,
        errorCode,
        generationId: -1,
        protocolName: "",
        leader: "",
        memberId: "",
        members: [],
      };
    }
    const outcome = await context.groups.join({
      groupId: request.groupId,
      memberId: request.memberId,
      clientId: context.clientId ?? "",
      clientHost: `/${context.remoteHost}`,
      sessionTimeoutMs: request.sessionTimeoutMs,
      rebalanceTimeoutMs:
        context.version === 0 ? request.sessionTimeoutMs : request.rebalanceTimeoutMs,
      protocolType: request.protocolType,
      protocols: request.protocols.map((p) => ({ name: p.name, metadata: p.metadata })),
      requireKnownMemberId: context.version >= 4,
      groupInstanceId: request.groupInstanceId,
    });
    return {
      throttleTimeMs: 0,
      errorCode: outcome.errorCode,
      generationId: outcome.generationId,
      protocolName: outcome.protocolName ?? "",
      leader: outcome.leader,
      memberId: outcome.memberId,
      members: outcome.members,
    };
  },
};
