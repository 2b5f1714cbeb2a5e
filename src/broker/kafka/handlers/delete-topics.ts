/** DeleteTopics v0-3: by name; the topic's data is gone when the response is sent. */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import type { ApiHandler } from "../handler-context.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.DeleteTopics>>;
type TopicResult = NonNullable<Response["responses"]>[number];

export const deleteTopicsHandler: ApiHandler<typeof ApiKey.DeleteTopics> = {
  apiKey: ApiKey.DeleteTopics,
  minVersion: 0,
  maxVersion: 3,
  async handle(context, request): Promise<Response> {
    const responses: TopicResult[] = [];
    for (const name of new Set(request.topicNames)) {
      if (!context.may("admin", name)) {
        responses.push({ name, errorCode: KafkaError.TOPIC_AUTHORIZATION_FAILED });
        continue;
      }
      try {
        const deleted = await context.store.delete(name);
        if (deleted) await context.offsets.deleteTopic(name);
        responses.push({
          name,
          errorCode: deleted ? KafkaError.NONE : KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
        });
      } catch (err) {
        context.logger.error({ err, topic: name }, "Kafka topic deletion failed");
        responses.push({ name, errorCode: KafkaError.UNKNOWN_SERVER_ERROR });
      }
    }
    return { throttleTimeMs: 0, responses };
  },
};
