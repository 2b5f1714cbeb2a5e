/**
 * ApiVersions: what the broker speaks. A version past 3 is answered (by the connection, which
 * cannot parse its body) in v0 with UNSUPPORTED_VERSION and ApiVersions' own range, as Kafka
 * does (KIP-511), so the client retries with a version both sides know.
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import type { ApiHandler } from "../handler-context.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.ApiVersions>>;

/** Kafka's rule for ClientSoftwareName and ClientSoftwareVersion (KIP-511). */
const SOFTWARE_PATTERN = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;

export const API_VERSIONS_MIN = 0;
export const API_VERSIONS_MAX = 3;

export function apiVersionsHandler(
  supported: () => Array<{ apiKey: number; minVersion: number; maxVersion: number }>,
): ApiHandler<typeof ApiKey.ApiVersions> {
  return {
    apiKey: ApiKey.ApiVersions,
    minVersion: API_VERSIONS_MIN,
    maxVersion: API_VERSIONS_MAX,
    async handle(context, request): Promise<Response> {
      if (
        context.version >= 3 &&
        (!SOFTWARE_PATTERN.test(request.clientSoftwareName) ||
          !SOFTWARE_PATTERN.test(request.clientSoftwareVersion))
      ) {
        return { errorCode: KafkaError.INVALID_REQUEST, apiKeys: [], throttleTimeMs: 0 };
      }
      return { errorCode: KafkaError.NONE, apiKeys: supported(), throttleTimeMs: 0 };
    },
  };
}

/** The v0 answer to an ApiVersions version this broker does not know. */
export function unsupportedApiVersionsResponse(): Response {
  return {
    errorCode: KafkaError.UNSUPPORTED_VERSION,
    apiKeys: [
      { apiKey: ApiKey.ApiVersions, minVersion: API_VERSIONS_MIN, maxVersion: API_VERSIONS_MAX },
    ],
  };
}
