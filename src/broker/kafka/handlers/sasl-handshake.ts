/**
 * SaslHandshake v1: the client names its mechanism; the tokens follow in SaslAuthenticate.
 * v0 (tokens sent raw, without Kafka framing) is answered UNSUPPORTED_VERSION, yet advertised
 * as Kafka does: librdkafka enables SASL only when the advertised range includes v0, and then
 * sends v1 (clients since Kafka 1.0 all do).
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import type { ApiHandler } from "../handler-context.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.SaslHandshake>>;

export const saslHandshakeHandler: ApiHandler<typeof ApiKey.SaslHandshake> = {
  apiKey: ApiKey.SaslHandshake,
  minVersion: 1,
  maxVersion: 1,
  advertisedMinVersion: 0,
  async handle(context, request): Promise<Response> {
    const answer = context.sasl.handshake(request.mechanism);
    if (answer.close) {
      context.closeAfterAnswer();
      context.logger.info(
        {
          remote: context.remote,
          clientId: context.clientId,
          mechanism: request.mechanism,
          errorCode: answer.errorCode,
          offered: answer.mechanisms,
        },
        answer.errorCode === KafkaError.UNSUPPORTED_SASL_MECHANISM
          ? "Kafka SASL mechanism not offered; closing"
          : "Kafka SaslHandshake out of order; closing",
      );
    }
    return { errorCode: answer.errorCode, mechanisms: answer.mechanisms };
  },
  errorResponse(_request, errorCode): Response {
    return { errorCode, mechanisms: [] };
  },
};
