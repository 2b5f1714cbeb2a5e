/**
 * Kafka's ACL model (bindings of resource pattern, principal, host, operation and permission,
 * as CreateAcls, DescribeAcls and DeleteAcls carry them) mapped onto our [kafka_acl] rules, in
 * both directions, without loss (docs/kafka.md "Managing ACLs with Kafka tools").
 *
 * A rule shows as the bindings it amounts to; a binding becomes a rule only when a rule says
 * exactly the same, never more and never less. A topic rule's `admin` is CREATE, DELETE, ALTER
 * and ALTER_CONFIGS together (creating, deleting and growing topics, deleting records, changing
 * configs), so it shows as four bindings and can only be made from all four; a group rule's `admin` is DELETE (DeleteGroups, OffsetDelete).
 * Everything else (other resources, hosts, principal types, operations) is refused with a
 * reason, never stored approximately. Pure functions: the rule book does the storing.
 */
import { KafkaAclRuleSchema, type KafkaAclRuleSpec } from "./kafka-acl.ts";

/** Kafka's ResourceType codes. */
export const AclResourceType = {
  UNKNOWN: 0,
  ANY: 1,
  TOPIC: 2,
  GROUP: 3,
  CLUSTER: 4,
  TRANSACTIONAL_ID: 5,
  DELEGATION_TOKEN: 6,
  USER: 7,
} as const;

/** Kafka's PatternType codes; ANY and MATCH exist only in filters. */
export const AclPatternType = { UNKNOWN: 0, ANY: 1, MATCH: 2, LITERAL: 3, PREFIXED: 4 } as const;

/** Kafka's AclOperation codes; ANY exists only in filters. */
export const AclOperation = {
  UNKNOWN: 0,
  ANY: 1,
  ALL: 2,
  READ: 3,
  WRITE: 4,
  CREATE: 5,
  DELETE: 6,
  ALTER: 7,
  DESCRIBE: 8,
  CLUSTER_ACTION: 9,
  DESCRIBE_CONFIGS: 10,
  ALTER_CONFIGS: 11,
  IDEMPOTENT_WRITE: 12,
  CREATE_TOKENS: 13,
  DESCRIBE_TOKENS: 14,
} as const;

/** Kafka's AclPermissionType codes; ANY exists only in filters. */
export const AclPermissionType = { UNKNOWN: 0, ANY: 1, DENY: 2, ALLOW: 3 } as const;

/** Kafka's wildcard resource name (a LITERAL pattern matching every name) and host. */
export const WILDCARD = "*";
const USER_PREFIX = "User:";
/** Kafka's principal of unauthenticated clients; our rules cannot name them apart. */
const ANONYMOUS_PRINCIPAL = "User:ANONYMOUS";

/** One Kafka ACL binding, with Kafka's numeric codes. */
export interface AclBinding {
  readonly resourceType: number;
  readonly resourceName: string;
  readonly patternType: number;
  readonly principal: string;
  readonly host: string;
  readonly operation: number;
  readonly permissionType: number;
}

/** A DescribeAcls or DeleteAcls filter: null strings match anything. */
export interface AclBindingFilter {
  readonly resourceType: number;
  readonly resourceName: string | null;
  readonly patternType: number;
  readonly principal: string | null;
  readonly host: string | null;
  readonly operation: number;
  readonly permissionType: number;
}

/** The part of a topic `admin` rule one binding stands for. */
export type AdminPart =
  | typeof AclOperation.CREATE
  | typeof AclOperation.DELETE
  | typeof AclOperation.ALTER
  | typeof AclOperation.ALTER_CONFIGS;
export const TOPIC_ADMIN_PARTS: readonly AdminPart[] = [
  AclOperation.CREATE,
  AclOperation.DELETE,
  AclOperation.ALTER,
  AclOperation.ALTER_CONFIGS,
];

/**
 * What a creation maps to: a rule spec (with `part` set when it is one part of a topic
 * `admin` rule, to be made only with the other three), or a refusal with Kafka's error code.
 */
export type CreationMapping =
  | { readonly ok: true; readonly spec: KafkaAclRuleSpec; readonly part: AdminPart | null }
  | { readonly ok: false; readonly message: string };

const OPERATION_NAMES = new Map<number, string>(
  Object.entries(AclOperation).map(([name, code]) => [code, name]),
);
const RESOURCE_NAMES = new Map<number, string>(
  Object.entries(AclResourceType).map(([name, code]) => [code, name]),
);

export function operationName(code: number): string {
  return OPERATION_NAMES.get(code) ?? `UNKNOWN(${code})`;
}

function resourceName(code: number): string {
  return RESOURCE_NAMES.get(code) ?? `UNKNOWN(${code})`;
}

/** A rule as the Kafka bindings it amounts to (four for a topic `admin` rule). */
export function bindingsOfRule(rule: KafkaAclRuleSpec): AclBinding[] {
  const onTopic = rule.topic !== undefined;
  const pattern = rule.topic ?? rule.group;
  if (pattern === undefined) throw new Error("assertion failed: a rule names a topic or a group");
  const prefixed = pattern !== WILDCARD && pattern.endsWith("*");
  const base = {
    resourceType: onTopic ? AclResourceType.TOPIC : AclResourceType.GROUP,
    resourceName: prefixed ? pattern.slice(0, -1) : pattern,
    patternType: prefixed ? AclPatternType.PREFIXED : AclPatternType.LITERAL,
    principal: `${USER_PREFIX}${rule.username ?? WILDCARD}`,
    host: WILDCARD,
    permissionType: rule.permission === "allow" ? AclPermissionType.ALLOW : AclPermissionType.DENY,
  };
  return operationsOf(rule.action, onTopic).map((operation) => ({ ...base, operation }));
}

function operationsOf(action: KafkaAclRuleSpec["action"], onTopic: boolean): number[] {
  switch (action) {
    case "read":
      return [AclOperation.READ];
    case "write":
      return [AclOperation.WRITE];
    case "all":
      return [AclOperation.ALL];
    case "admin":
      return onTopic ? [...TOPIC_ADMIN_PARTS] : [AclOperation.DELETE];
  }
}

/**
 * Kafka's own checks of a binding to create (its AclControlManager.validateNewAcl): an
 * INVALID_REQUEST there too. null when Kafka would take it.
 */
export function kafkaInvalidBinding(binding: AclBinding): string | null {
  const { resourceType, patternType, operation, permissionType } = binding;
  if (!RESOURCE_NAMES.has(resourceType) || resourceType <= AclResourceType.ANY) {
    return `Invalid resourceType ${resourceName(resourceType)}`;
  }
  if (patternType !== AclPatternType.LITERAL && patternType !== AclPatternType.PREFIXED) {
    return `Invalid patternType ${patternType}`;
  }
  if (!OPERATION_NAMES.has(operation) || operation <= AclOperation.ANY) {
    return `Invalid operation ${operationName(operation)}`;
  }
  if (permissionType !== AclPermissionType.ALLOW && permissionType !== AclPermissionType.DENY) {
    return `Invalid permissionType ${permissionType}`;
  }
  if (binding.resourceName === "") return "Invalid empty resource name";
  if (!binding.principal.includes(":")) {
    return `Could not parse principal from \`${binding.principal}\` (no colon is present separating the principal type from the principal name)`;
  }
  return null;
}

/** The binding as a rule, or why no rule says exactly the same. */
export function mapCreation(binding: AclBinding): CreationMapping {
  const invalid = kafkaInvalidBinding(binding);
  if (invalid !== null) return { ok: false, message: invalid };
  const onTopic = binding.resourceType === AclResourceType.TOPIC;
  if (!onTopic && binding.resourceType !== AclResourceType.GROUP) {
    return cannot(
      `${resourceName(binding.resourceType)} resources have no rules here (only TOPIC and GROUP)`,
    );
  }
  if (binding.host !== WILDCARD) return cannot('rules cannot name a host (only "*")');
  const username = usernameOf(binding.principal);
  if (typeof username === "object") return cannot(username.refusal);
  const action = actionOf(binding.operation, onTopic);
  if (action === null) return cannot(operationRefusal(binding.operation, onTopic));
  const pattern = patternOf(binding);
  if (typeof pattern === "object") return cannot(pattern.refusal);
  const spec: KafkaAclRuleSpec = {
    permission: binding.permissionType === AclPermissionType.ALLOW ? "allow" : "deny",
    action,
    ...(onTopic ? { topic: pattern } : { group: pattern }),
    ...(username === undefined ? {} : { username }),
  };
  const parsed = KafkaAclRuleSchema.safeParse(spec);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const what =
      issue.path[0] === "username" ? "user name" : `${onTopic ? "topic" : "group"} pattern`;
    return cannot(`the ${what} is not valid here: ${issue.message}`);
  }
  const part = onTopic && action === "admin" ? (binding.operation as AdminPart) : null;
  return { ok: true, spec: parsed.data, part };
}

function cannot(reason: string): CreationMapping {
  return { ok: false, message: `RobustMQ cannot store this ACL exactly: ${reason}` };
}

/** undefined for "User:*" (anyone, anonymous clients included). */
function usernameOf(principal: string): string | undefined | { refusal: string } {
  if (!principal.startsWith(USER_PREFIX)) {
    return { refusal: `only User principals can be named (not ${principal})` };
  }
  if (principal === ANONYMOUS_PRINCIPAL) {
    return { refusal: "anonymous clients cannot be named apart (User:* covers them)" };
  }
  const name = principal.slice(USER_PREFIX.length);
  if (name === "") return { refusal: "the principal names no user" };
  return name === WILDCARD ? undefined : name;
}

function actionOf(operation: number, onTopic: boolean): KafkaAclRuleSpec["action"] | null {
  switch (operation) {
    case AclOperation.ALL:
      return "all";
    case AclOperation.READ:
      return "read";
    case AclOperation.WRITE:
      return onTopic ? "write" : null;
    case AclOperation.CREATE:
    case AclOperation.ALTER:
    case AclOperation.ALTER_CONFIGS:
      return onTopic ? "admin" : null;
    case AclOperation.DELETE:
      return "admin";
    default:
      return null;
  }
}

function operationRefusal(operation: number, onTopic: boolean): string {
  const name = operationName(operation);
  return onTopic
    ? `topic rules allow or deny READ, WRITE, ALL, or CREATE, DELETE, ALTER and ALTER_CONFIGS together; ${name} has no equivalent`
    : `group rules allow or deny READ, DELETE or ALL; ${name} has no equivalent`;
}

/** Our pattern: a name, a prefix ending in "*", or "*" alone. */
function patternOf(binding: AclBinding): string | { refusal: string } {
  const name = binding.resourceName;
  if (binding.patternType === AclPatternType.PREFIXED) return `${name}*`;
  // A literal name ending in "*" would be read as a prefix here.
  if (name !== WILDCARD && name.endsWith("*")) {
    return { refusal: `a literal name ending in "*" (${name}) would be a prefix here` };
  }
  return name;
}

/** Kafka's checks of a filter (AclBindingFilter.isUnknown): null when it is usable. */
export function invalidFilter(filter: AclBindingFilter): string | null {
  if (!RESOURCE_NAMES.has(filter.resourceType) || filter.resourceType === AclResourceType.UNKNOWN) {
    return "Unknown patternFilter: resource type";
  }
  if (
    filter.patternType <= AclPatternType.UNKNOWN ||
    filter.patternType > AclPatternType.PREFIXED
  ) {
    return "Unknown patternFilter: pattern type";
  }
  if (!OPERATION_NAMES.has(filter.operation) || filter.operation === AclOperation.UNKNOWN) {
    return "Unknown entryFilter: operation";
  }
  if (
    filter.permissionType <= AclPermissionType.UNKNOWN ||
    filter.permissionType > AclPermissionType.ALLOW
  ) {
    return "Unknown entryFilter: permission type";
  }
  return null;
}

/** Kafka's AclBindingFilter.matches: ResourcePatternFilter then AccessControlEntryFilter. */
export function filterMatches(filter: AclBindingFilter, binding: AclBinding): boolean {
  return patternMatches(filter, binding) && entryMatches(filter, binding);
}

function patternMatches(filter: AclBindingFilter, binding: AclBinding): boolean {
  const { resourceType, patternType, resourceName: name } = filter;
  if (resourceType !== AclResourceType.ANY && resourceType !== binding.resourceType) return false;
  const anyPattern = patternType === AclPatternType.ANY || patternType === AclPatternType.MATCH;
  if (!anyPattern && patternType !== binding.patternType) return false;
  if (name === null) return true;
  if (patternType === AclPatternType.ANY || patternType === binding.patternType) {
    return name === binding.resourceName;
  }
  // MATCH: every binding that applies to the named resource.
  if (binding.patternType === AclPatternType.LITERAL) {
    return name === binding.resourceName || binding.resourceName === WILDCARD;
  }
  return name.startsWith(binding.resourceName);
}

function entryMatches(filter: AclBindingFilter, binding: AclBinding): boolean {
  if (filter.principal !== null && filter.principal !== binding.principal) return false;
  if (filter.host !== null && filter.host !== binding.host) return false;
  if (filter.operation !== AclOperation.ANY && filter.operation !== binding.operation) return false;
  return (
    filter.permissionType === AclPermissionType.ANY ||
    filter.permissionType === binding.permissionType
  );
}

/** A key naming a rule's spec, equal for rules that say the same. */
export function specKey(spec: KafkaAclRuleSpec): string {
  const { permission, action, topic, group, username } = spec;
  return JSON.stringify([permission, action, topic ?? null, group ?? null, username ?? null]);
}
