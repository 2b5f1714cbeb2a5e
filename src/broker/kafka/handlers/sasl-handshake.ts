/**
 * SaslHandshake v0-1: the client names its mechanism. After v1 the tokens follow in
 * SaslAuthenticate requests; after v0 (clients before Kafka 1.0, and kafka-python 2.0) as raw
 * frames, a 4-byte size and the token each way, which the connection runs as SASL steps
 * (connection.ts). Kafka 4 dropped v0; Kafka 3 serves it, and so does this broker.
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import type { ApiHandler } from "../handler-context.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.SaslHandshake>>;

export const saslHandshakeHandler: ApiHandler<typeof ApiKey.SaslHandshake> = {
  apiKey: ApiKey.SaslHandshake,
  minVersion: 0,
  maxVersion: 1,
  async handle(context, request): Promise<Response> {
    const answer = context.sasl.handshake(request.mechanism, context.version === 0);
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
