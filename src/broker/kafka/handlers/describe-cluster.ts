/**
 * DescribeCluster v0-1 (Java's Admin.describeCluster and the consoles built on it, which ask it
 * instead of Metadata where a broker offers it): this node as the only broker and the
 * controller, at the address Metadata gives, and the cluster operations the client may do
 * (authorized-operations.ts). This node is a broker endpoint: asked for controllers (v1
 * endpoint type 2) it answers MISMATCHED_ENDPOINT_TYPE, any other type
 * UNSUPPORTED_ENDPOINT_TYPE, as a Kafka broker does.
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import { clusterOperations, OPERATIONS_UNKNOWN } from "../authorized-operations.ts";
import type { ApiHandler } from "../handler-context.ts";
import { advertisedAddress } from "./metadata.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.DescribeCluster>>;

const BROKER_ENDPOINT = 1;
const CONTROLLER_ENDPOINT = 2;

export const describeClusterHandler: ApiHandler<typeof ApiKey.DescribeCluster> = {
  apiKey: ApiKey.DescribeCluster,
  minVersion: 0,
  maxVersion: 1,
  async handle(context, request): Promise<Response> {
    const { brokerId, clusterId } = context.settings;
    const endpointType = request.endpointType;
    if (endpointType !== BROKER_ENDPOINT) {
      const mismatched = endpointType === CONTROLLER_ENDPOINT;
      return {
        throttleTimeMs: 0,
        errorCode: mismatched
          ? KafkaError.MISMATCHED_ENDPOINT_TYPE
          : KafkaError.UNSUPPORTED_ENDPOINT_TYPE,
        errorMessage: mismatched
          ? "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER"
          : `Unsupported endpoint type ${endpointType}`,
        endpointType,
        clusterId,
        controllerId: -1,
        brokers: [],
        clusterAuthorizedOperations: OPERATIONS_UNKNOWN,
      };
    }
    const { host, port } = advertisedAddress(context);
    return {
      throttleTimeMs: 0,
      errorCode: KafkaError.NONE,
      errorMessage: null,
      endpointType,
      clusterId,
      controllerId: brokerId,
      brokers: [{ brokerId, host, port, rack: null }],
      clusterAuthorizedOperations: request.includeClusterAuthorizedOperations
        ? clusterOperations(context.sasl.superuser)
        : OPERATIONS_UNKNOWN,
    };
  },
};
