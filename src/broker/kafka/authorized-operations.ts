/**
 * Kafka's authorized-operations bitfields (Metadata, DescribeGroups): bit n set for AclOperation
 * code n. A topic's and a group's follow [kafka_acl] (topicOperations, groupOperations); the
 * cluster's follow what this broker lets a client do with it (clusterOperations).
 */
import type { KafkaAclAction, KafkaGroupAction } from "../../security/acl/kafka-acl.ts";

/** "Not requested" in Kafka's authorized-operations fields. */
export const OPERATIONS_UNKNOWN = -2147483648;

function bits(codes: readonly number[]): number {
  return codes.reduce((all, code) => all | (1 << code), 0);
}

const READ = 3;
const WRITE = 4;
const CREATE = 5;
const DELETE = 6;
const ALTER = 7;
const DESCRIBE = 8;
const DESCRIBE_CONFIGS = 10;
const ALTER_CONFIGS = 11;

/**
 * What the client may do with the topic: read, write, and for admin CREATE, DELETE, ALTER and
 * ALTER_CONFIGS; DESCRIBE and DESCRIBE_CONFIGS with any of them.
 */
export function topicOperations(may: (action: KafkaAclAction) => boolean): number {
  const codes: number[] = [];
  if (may("read")) codes.push(READ);
  if (may("write")) codes.push(WRITE);
  if (may("admin")) codes.push(CREATE, DELETE, ALTER, ALTER_CONFIGS);
  if (codes.length > 0) codes.push(DESCRIBE, DESCRIBE_CONFIGS);
  return bits(codes);
}
/** What the client may do with the group: READ, DELETE for admin, DESCRIBE with either. */
export function groupOperations(may: (action: KafkaGroupAction) => boolean): number {
  const codes: number[] = [];
  if (may("read")) codes.push(READ);
  if (may("admin")) codes.push(DELETE);
  if (codes.length > 0) codes.push(DESCRIBE);
  return bits(codes);
}
const IDEMPOTENT_WRITE = 12;

/**
 * What the client may do with the cluster: CREATE (topics, as [kafka_acl] then decides per
 * topic), DESCRIBE (DescribeLogDirs), DESCRIBE_CONFIGS (the broker's settings) and
 * IDEMPOTENT_WRITE for everyone; ALTER (CreateAcls, DeleteAcls) for a superuser only. Never
 * ALTER_CONFIGS (broker settings come from robustmq.toml) or CLUSTER_ACTION (no other brokers).
 */
export function clusterOperations(superuser: boolean): number {
  const codes = [CREATE, DESCRIBE, DESCRIBE_CONFIGS, IDEMPOTENT_WRITE];
  return bits(superuser ? [...codes, ALTER] : codes);
}
