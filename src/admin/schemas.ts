/**
 * JSON schemas of the admin API: fastify compiles them once at registration into validators
 * (requests) and serializers (responses), and @fastify/swagger turns them into openapi.json.
 * Query strings are strict: a misspelt filter is a 400, not a silently unfiltered list.
 */
import { KAFKA_ACL_ACTIONS } from "../security/acl/kafka-acl.ts";
import { ACL_ACTIONS, ACL_PERMISSIONS, BAN_KINDS } from "../security/types.ts";
import {
  BAN_DURATION_S_MAX,
  BAN_REASON_CHARS_MAX,
  PAGE_LIMIT_DEFAULT,
  PAGE_LIMIT_MAX,
  QUERY_STRING_CHARS_MAX,
  USER_PASSWORD_CHARS_MAX,
} from "./limits.ts";

type Schema = Record<string, unknown>;

const str = { type: "string" } as const;
const int = { type: "integer" } as const;
const bool = { type: "boolean" } as const;
const nullableStr = { type: ["string", "null"] } as const;
const nullableInt = { type: ["integer", "null"] } as const;
const queryStr = { type: "string", minLength: 1, maxLength: QUERY_STRING_CHARS_MAX } as const;

function object(properties: Record<string, Schema>, description?: string): Schema {
  return {
    type: "object",
    ...(description === undefined ? {} : { description }),
    properties,
    required: Object.keys(properties),
    additionalProperties: false,
  };
}

export const errorSchema = object({
  statusCode: int,
  code: str,
  error: str,
  message: str,
});

/** The error answers every authenticated route may give, besides its own. */
export const commonErrors = { 400: errorSchema, 401: errorSchema };

export const pageQuery = {
  limit: { type: "integer", minimum: 1, maximum: PAGE_LIMIT_MAX, default: PAGE_LIMIT_DEFAULT },
  offset: { type: "integer", minimum: 0, default: 0 },
} as const;

export function queryObject(properties: Record<string, Schema>): Schema {
  return { type: "object", properties, additionalProperties: false };
}

export function pageOf(item: Schema): Schema {
  return object({
    data: { type: "array", items: item },
    meta: object({ total: int, offset: int, limit: int, nextOffset: nullableInt }),
  });
}

export const listener = object({ host: str, port: int });

export const healthSchema = object({ status: str, uptimeS: int, version: str });

export const loginBody = {
  type: "object",
  properties: { username: queryStr, password: { type: "string", maxLength: 1024 } },
  required: ["username", "password"],
  additionalProperties: false,
} as const;

export const loginReply = object({ token: str, expiresAt: str });

export const nodeSchema = object({
  clusterName: str,
  brokerId: int,
  roles: { type: "array", items: str },
  version: str,
  startedAt: str,
  uptimeS: int,
  listeners: {
    type: "object",
    properties: {
      mqtt: listener,
      mqtts: listener,
      ws: listener,
      wss: listener,
      kafka: listener,
      admin: listener,
    },
    additionalProperties: false,
  },
});

const segmentSchema = object({
  baseOffset: int,
  nextOffset: int,
  sizeBytes: int,
  maxTimestamp: int,
  corruptRegions: int,
});

const logSchema = object({
  logStartOffset: int,
  logEndOffset: int,
  sizeBytes: int,
  segments: { type: "array", items: segmentSchema },
});

export const mqttStorageSchema = object({
  ...(logSchema.properties as Record<string, Schema>),
  fsyncPolicy: str,
  appendFailures: int,
  persistentSessions: int,
  lastCheckpointAt: nullableStr,
  replayFromOffset: nullableInt,
});

export const kafkaTopicSummarySchema = object({
  name: str,
  topicId: str,
  partitions: int,
  sizeBytes: int,
  records: int,
  createdAt: str,
});

export const kafkaTopicSchema = object({
  ...(kafkaTopicSummarySchema.properties as Record<string, Schema>),
  configs: { type: "object", additionalProperties: str },
  partitionLogs: {
    type: "array",
    items: object({ partition: int, ...(logSchema.properties as Record<string, Schema>) }),
  },
});

export const kafkaGroupSchema = object({
  groupId: str,
  state: str,
  generationId: int,
  protocol: nullableStr,
  members: int,
  lag: int,
  partitions: {
    type: "array",
    items: object({
      topic: str,
      partition: int,
      committedOffset: int,
      logEndOffset: int,
      lag: int,
    }),
  },
});

export const clientSchema = object({
  clientId: str,
  username: nullableStr,
  connected: bool,
  remoteAddress: nullableStr,
  protocolVersion: nullableInt,
  keepAliveS: { type: ["number", "null"] },
  connectedAt: nullableStr,
  disconnectedAt: nullableStr,
  sessionExpiryIntervalS: int,
  inflightCount: int,
  queuedCount: int,
  subscriptionsCount: int,
});

export const sessionSchema = object({
  clientId: str,
  connected: bool,
  expiryIntervalS: int,
  disconnectedAt: nullableStr,
  expiresAt: nullableStr,
  inflightCount: int,
  queuedCount: int,
  subscriptionsCount: int,
});

export const subscriptionSchema = object({
  clientId: str,
  filter: str,
  shareGroup: nullableStr,
  qos: int,
  noLocal: bool,
  retainAsPublished: bool,
  retainHandling: int,
  subscriptionId: nullableInt,
});

export const retainedSchema = object({
  topic: str,
  qos: int,
  payloadBytes: int,
  payloadPreview: str,
  previewTruncated: bool,
  expiresAt: nullableStr,
});

export const clientIdParams = object({ clientId: queryStr });
export const topicParams = object({ topic: queryStr });
export const kickReply = object({ clientId: str, kicked: bool });
export const deletedReply = object({ topic: str, deleted: bool });

export function statsSchema(counterNames: readonly string[]): Schema {
  const counters: Record<string, Schema> = {};
  for (const name of counterNames) counters[name] = int;
  return object({
    connections: int,
    sessions: int,
    subscriptions: int,
    retained: int,
    inflight: int,
    queued: int,
    delayed: int,
    counters: object(counters),
  });
}

/** The effective configuration: any JSON object (secrets redacted). */
export const configSchema = { type: "object", additionalProperties: true } as const;

export const queryStrSchema = queryStr;
export const boolSchema = bool;

// Users, ACL rules and bans (routes-security.ts). Field names in request bodies follow the
// config file's [mqtt_acl] rules (client_id) so a rule reads the same in both places.

const name = { type: "string", minLength: 1, maxLength: QUERY_STRING_CHARS_MAX } as const;
const nullableName = {
  type: ["string", "null"],
  minLength: 1,
  maxLength: QUERY_STRING_CHARS_MAX,
} as const;
const password = { type: "string", minLength: 1, maxLength: USER_PASSWORD_CHARS_MAX } as const;

export const userSchema = object({ username: str, superuser: bool, createdAt: str });
export const usernameParams = object({ username: name });
export const userAddBody = {
  type: "object",
  properties: { username: name, password, superuser: bool },
  required: ["username", "password"],
  additionalProperties: false,
} as const;
export const userUpdateBody = {
  type: "object",
  properties: { password, superuser: bool },
  minProperties: 1,
  additionalProperties: false,
} as const;
export const userDeletedReply = object({ username: str, deleted: bool });

export const aclRuleSchema = object(
  {
    id: str,
    source: { type: "string", enum: ["config", "api"] },
    permission: { type: "string", enum: [...ACL_PERMISSIONS] },
    action: { type: "string", enum: [...ACL_ACTIONS] },
    topic: str,
    username: nullableStr,
    client_id: nullableStr,
    ip: nullableStr,
  },
  "null username, client_id or ip: the rule matches anyone",
);
export const aclAddBody = {
  type: "object",
  properties: {
    permission: { type: "string", enum: [...ACL_PERMISSIONS] },
    action: { type: "string", enum: [...ACL_ACTIONS] },
    topic: name,
    username: nullableName,
    client_id: nullableName,
    ip: nullableName,
    before: name,
  },
  required: ["permission", "action", "topic"],
  additionalProperties: false,
} as const;
export const aclIdParams = object({ id: name });
export const kafkaAclRuleSchema = object(
  {
    id: str,
    source: { type: "string", enum: ["config", "api"] },
    permission: { type: "string", enum: [...ACL_PERMISSIONS] },
    action: { type: "string", enum: [...KAFKA_ACL_ACTIONS] },
    topic: nullableStr,
    group: nullableStr,
    username: nullableStr,
  },
  "a rule names a topic or a group (the other is null); null username: every Kafka client",
);
export const kafkaAclAddBody = {
  type: "object",
  properties: {
    permission: { type: "string", enum: [...ACL_PERMISSIONS] },
    action: { type: "string", enum: [...KAFKA_ACL_ACTIONS] },
    topic: name,
    group: name,
    username: nullableName,
    before: name,
  },
  required: ["permission", "action"],
  additionalProperties: false,
} as const;
export const aclDeletedReply = object({ id: str, deleted: bool });

const banKind = { type: "string", enum: [...BAN_KINDS] } as const;
export const banSchema = object(
  { kind: banKind, value: str, reason: str, createdAt: str, expiresAt: nullableStr },
  "expiresAt null: the ban never lapses",
);
export const banAddBody = {
  type: "object",
  properties: {
    kind: banKind,
    value: name,
    duration_s: { type: "integer", minimum: 0, maximum: BAN_DURATION_S_MAX },
    reason: { type: "string", maxLength: BAN_REASON_CHARS_MAX },
  },
  required: ["kind", "value"],
  additionalProperties: false,
} as const;
export const banAddReply = object({ ban: banSchema, kicked: int });
export const banParams = object({ kind: banKind, value: name });
export const banDeletedReply = object({ kind: str, value: str, deleted: bool });
