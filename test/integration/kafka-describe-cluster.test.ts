/**
 * DescribeCluster against the real broker at both versions: this node as the only broker and
 * the controller, at the address and with the cluster id Metadata gives; the cluster operations
 * on request; Kafka's errors for an endpoint type other than brokers.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ApiKey } from "../../src/protocol/kafka/api-keys.ts";
import { KafkaError } from "../../src/protocol/kafka/error-codes.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { WireClient } from "../unit/protocol/kafka/wire-client.ts";

let broker: BrokerProcess;
let client: WireClient;

before(async () => {
  broker = await startBroker({ logLevel: "info" });
  client = await WireClient.connect(broker.kafkaPort ?? 0);
});

after(async () => {
  client?.close();
  await broker?.stop();
});

test("both versions: the one broker and controller, as Metadata describes them", async () => {
  const metadata = await client.request(ApiKey.Metadata, 8, {
    topics: [],
    allowAutoTopicCreation: false,
    includeClusterAuthorizedOperations: true,
    includeTopicAuthorizedOperations: false,
  });
  for (let version = 0; version <= 1; version++) {
    const cluster = await client.request(ApiKey.DescribeCluster, version, {
      includeClusterAuthorizedOperations: true,
      endpointType: 1,
    });
    assert.equal(cluster.errorCode, KafkaError.NONE);
    assert.equal(cluster.errorMessage, null);
    assert.equal(cluster.clusterId, metadata.clusterId);
    assert.equal(cluster.controllerId, metadata.controllerId);
    const described = metadata.brokers.map(({ nodeId, ...rest }) => ({
      brokerId: nodeId,
      ...rest,
    }));
    assert.deepEqual(cluster.brokers, described, `v${version}`);
    assert.equal(cluster.brokers[0].port, broker.kafkaPort);
    // Anonymous: CREATE, DESCRIBE, DESCRIBE_CONFIGS, IDEMPOTENT_WRITE; no ALTER (ACLs).
    const bits = [5, 8, 10, 12].reduce((all, code) => all | (1 << code), 0);
    assert.equal(cluster.clusterAuthorizedOperations, bits);
    assert.equal(cluster.clusterAuthorizedOperations, metadata.clusterAuthorizedOperations);
    const unasked = await client.request(ApiKey.DescribeCluster, version, {
      includeClusterAuthorizedOperations: false,
      endpointType: 1,
    });
    assert.equal(unasked.clusterAuthorizedOperations, -2147483648, "not requested");
  }
});

test("v1: controllers are another endpoint's; unknown endpoint types are unsupported", async () => {
  const controllers = await client.request(ApiKey.DescribeCluster, 1, {
    includeClusterAuthorizedOperations: false,
    endpointType: 2,
  });
  assert.equal(controllers.errorCode, KafkaError.MISMATCHED_ENDPOINT_TYPE);
  assert.deepEqual(controllers.brokers, []);
  const unknown = await client.request(ApiKey.DescribeCluster, 1, {
    includeClusterAuthorizedOperations: false,
    endpointType: 7,
  });
  assert.equal(unknown.errorCode, KafkaError.UNSUPPORTED_ENDPOINT_TYPE);
});
