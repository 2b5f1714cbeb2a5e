/**
 * FindCoordinator v0-2: this node coordinates every group. Transactions are not offered, so a
 * transaction coordinator lookup (key type 1) gets INVALID_REQUEST, which clients do not retry.
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import type { ApiHandler } from "../handler-context.ts";
import { advertisedAddress } from "./metadata.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.FindCoordinator>>;

const KEY_TYPE_GROUP = 0;

export const findCoordinatorHandler: ApiHandler<typeof ApiKey.FindCoordinator> = {
  apiKey: ApiKey.FindCoordinator,
  minVersion: 0,
  maxVersion: 2,
  async handle(context, request): Promise<Response> {
    if (context.version >= 1 && request.keyType !== KEY_TYPE_GROUP) {
      return {
        throttleTimeMs: 0,
        errorCode: KafkaError.INVALID_REQUEST,
        errorMessage: "transactions are not supported",
        nodeId: -1,
        host: "",
        port: -1,
      };
    }
    if (!context.mayDescribeGroup(request.key)) {
      return {
        throttleTimeMs: 0,
        errorCode: KafkaError.GROUP_AUTHORIZATION_FAILED,
        errorMessage: "Authorization failed.",
        nodeId: -1,
        host: "",
        port: -1,
      };
    }
    const { host, port } = advertisedAddress(context);
    return {
      throttleTimeMs: 0,
      errorCode: KafkaError.NONE,
      errorMessage: null,
      nodeId: context.settings.brokerId,
      host,
      port,
    };
  },
};
