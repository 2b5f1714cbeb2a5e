/**
 * Kafka's authorized-operations bitfields (Metadata, DescribeGroups): bit n set for AclOperation
 * code n. There are no ACLs on the Kafka listener yet, so every operation a resource type
 * supports is reported as allowed.
 */

/** "Not requested" in Kafka's authorized-operations fields. */
export const OPERATIONS_UNKNOWN = -2147483648;

function bits(codes: readonly number[]): number {
  return codes.reduce((all, code) => all | (1 << code), 0);
}

/** READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS. */
export const ALL_TOPIC_OPERATIONS = bits([3, 4, 5, 6, 7, 8, 10, 11]);
/** CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE. */
export const ALL_CLUSTER_OPERATIONS = bits([5, 7, 8, 9, 10, 11, 12]);
/** READ, DELETE, DESCRIBE. */
export const ALL_GROUP_OPERATIONS = bits([3, 6, 8]);
