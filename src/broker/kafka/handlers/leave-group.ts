/**
 * LeaveGroup v0-3: v0-2 name one member, v3 a list (each answered separately). For v0-2 the
 * member's error is the response's error, as Kafka reports it.
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import type { ApiHandler } from "../handler-context.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.LeaveGroup>>;

export const leaveGroupHandler: ApiHandler<typeof ApiKey.LeaveGroup> = {
  apiKey: ApiKey.LeaveGroup,
  minVersion: 0,
  maxVersion: 3,
  async handle(context, request): Promise<Response> {
    if (!context.mayGroup("read", request.groupId)) {
      return { throttleTimeMs: 0, errorCode: KafkaError.GROUP_AUTHORIZATION_FAILED, members: [] };
    }
    if (context.version < 3) {
      const leaving = [{ memberId: request.memberId, groupInstanceId: null }];
      const [errorCode] = context.groups.leave(request.groupId, leaving);
      return { throttleTimeMs: 0, errorCode };
    }
    const errors = context.groups.leave(request.groupId, request.members);
    return {
      throttleTimeMs: 0,
      errorCode: KafkaError.NONE,
      members: request.members.map((m, i) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        errorCode: errors[i],
      })),
    };
  },
};
