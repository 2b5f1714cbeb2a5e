/** SyncGroup v0-3: the leader hands out assignments; every member waits for its own. */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import type { ApiHandler } from "../handler-context.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.SyncGroup>>;

export const syncGroupHandler: ApiHandler<typeof ApiKey.SyncGroup> = {
  apiKey: ApiKey.SyncGroup,
  minVersion: 0,
  maxVersion: 3,
  async handle(context, request): Promise<Response> {
    if (!context.mayGroup("read", request.groupId)) {
      const errorCode = KafkaError.GROUP_AUTHORIZATION_FAILED;
      return { throttleTimeMs: 0, errorCode, assignment: Buffer.alloc(0) };
    }
    const outcome = await context.groups.sync({
      groupId: request.groupId,
      generationId: request.generationId,
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId,
      assignments: new Map(request.assignments.map((a) => [a.memberId, a.assignment])),
    });
    return { throttleTimeMs: 0, errorCode: outcome.errorCode, assignment: outcome.assignment };
  },
};
