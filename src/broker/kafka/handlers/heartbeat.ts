/** Heartbeat v0-3: keeps a member's session; REBALANCE_IN_PROGRESS tells it to rejoin. */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import type { ApiHandler } from "../handler-context.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.Heartbeat>>;

export const heartbeatHandler: ApiHandler<typeof ApiKey.Heartbeat> = {
  apiKey: ApiKey.Heartbeat,
  minVersion: 0,
  maxVersion: 3,
  async handle(context, request): Promise<Response> {
    if (!context.mayGroup("read", request.groupId)) {
      return { throttleTimeMs: 0, errorCode: KafkaError.GROUP_AUTHORIZATION_FAILED };
    }
    const errorCode = context.groups.heartbeat({
      groupId: request.groupId,
      generationId: request.generationId,
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId,
    });
    return { throttleTimeMs: 0, errorCode };
  },
};
