/**
 * The Kafka APIs this codec knows (those with a schema in schemas/) and the versions the broker
 * advertises in ApiVersions. The codec itself handles every version a schema defines; the
 * ranges below are what the broker implements and has tested against real clients.
 */
export const ApiKey = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  DescribeGroups: 15,
  ListGroups: 16,
  SaslHandshake: 17,
  ApiVersions: 18,
  CreateTopics: 19,
  DeleteTopics: 20,
  DeleteRecords: 21,
  InitProducerId: 22,
  DescribeAcls: 29,
  CreateAcls: 30,
  DeleteAcls: 31,
  DescribeConfigs: 32,
  AlterConfigs: 33,
  DescribeLogDirs: 35,
  SaslAuthenticate: 36,
  CreatePartitions: 37,
  DeleteGroups: 42,
  IncrementalAlterConfigs: 44,
  OffsetDelete: 47,
  DescribeCluster: 60,
} as const;
export type ApiKeyValue = (typeof ApiKey)[keyof typeof ApiKey];

const NAMES = new Map<number, string>(Object.entries(ApiKey).map(([name, key]) => [key, name]));

export function apiName(apiKey: number): string {
  return NAMES.get(apiKey) ?? `api ${apiKey}`;
}

export function isKnownApiKey(apiKey: number): apiKey is ApiKeyValue {
  return NAMES.has(apiKey);
}

export interface SupportedRange {
  apiKey: ApiKeyValue;
  minVersion: number;
  maxVersion: number;
}
