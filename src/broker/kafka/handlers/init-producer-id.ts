/**
 * InitProducerId v0-1: a fresh producer id (epoch 0) for an idempotent producer, never reused
 * on this node (the counter is durable, groups/offset-store.ts). A transactional id gets
 * INVALID_REQUEST: transactions are not offered.
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import type { ApiHandler } from "../handler-context.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.InitProducerId>>;

function refused(errorCode: number): Response {
  return { throttleTimeMs: 0, errorCode, producerId: -1n, producerEpoch: -1 };
}

export const initProducerIdHandler: ApiHandler<typeof ApiKey.InitProducerId> = {
  apiKey: ApiKey.InitProducerId,
  minVersion: 0,
  maxVersion: 1,
  async handle(context, request): Promise<Response> {
    if (request.transactionalId !== null) return refused(KafkaError.INVALID_REQUEST);
    try {
      const producerId = await context.offsets.allocateProducerId();
      return { throttleTimeMs: 0, errorCode: KafkaError.NONE, producerId, producerEpoch: 0 };
    } catch (err) {
      context.logger.error({ err }, "Kafka producer id allocation failed");
      return refused(KafkaError.UNKNOWN_SERVER_ERROR);
    }
  },
};
