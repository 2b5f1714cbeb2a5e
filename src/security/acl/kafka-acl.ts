/**
 * Authorization of Kafka requests by topic and consumer group ([kafka_acl], docs/kafka.md
 * "Authorization"): an ordered rule list, first match decides, `no_match` otherwise; superusers
 * pass every check. A rule names a topic or a group.
 *
 * On topics: `read` (Fetch; committing, fetching and deleting its committed offsets), `write`
 * (Produce), `admin` (creating, deleting and growing topics, altering their configs). On
 * groups: `read` (joining and using the group, committing offsets) and `admin` (deleting the
 * group or its offsets). Seeing
 * a topic or group at all (Metadata, ListOffsets, DescribeConfigs; FindCoordinator,
 * DescribeGroups, ListGroups, OffsetFetch) needs any action on it, as Kafka's DESCRIBE is
 * implied by the others.
 *
 * MQTT topics bridged to Kafka are guarded here, not by [mqtt_acl]: a Kafka client reads a
 * Kafka topic, whatever filled it.
 */
import { z } from "zod";

export const KAFKA_ACL_ACTIONS = ["read", "write", "admin", "all"] as const;
export type KafkaAclAction = Exclude<(typeof KAFKA_ACL_ACTIONS)[number], "all">;
/** What a rule on a consumer group may allow: there is no writing to a group. */
export type KafkaGroupAction = Exclude<KafkaAclAction, "write">;
export type KafkaResource = "topic" | "group";

/** A Kafka topic name, a prefix ending in "*", or "*" alone. */
const TOPIC_PATTERN = /^(?:[A-Za-z0-9._-]{1,249}\*?|\*)$/;
/** Group ids may hold any character; a trailing "*" makes a prefix. */
const GROUP_PATTERN_CHARS_MAX = 256;

export const KafkaAclRuleSchema = z
  .strictObject({
    permission: z.enum(["allow", "deny"]),
    action: z.enum(KAFKA_ACL_ACTIONS),
    topic: z
      .string()
      .regex(TOPIC_PATTERN, 'a topic name, a prefix ending in "*", or "*"')
      .optional(),
    group: z.string().min(1).max(GROUP_PATTERN_CHARS_MAX).optional(),
    username: z.string().min(1).max(65_535).optional(),
  })
  .superRefine((rule, ctx) => {
    if ((rule.topic === undefined) === (rule.group === undefined)) {
      const message = "a rule names either a topic or a group";
      ctx.addIssue({ code: "custom", path: [], input: rule, message });
    } else if (rule.group !== undefined && rule.action === "write") {
      const message = 'a group rule\'s action is "read", "admin" or "all"';
      ctx.addIssue({ code: "custom", path: ["action"], input: rule.action, message });
    }
  });
export type KafkaAclRuleSpec = z.output<typeof KafkaAclRuleSchema>;

/** Who asks: the authenticated user (undefined: anonymous) and whether it is a superuser. */
export interface KafkaPrincipal {
  readonly username: string | undefined;
  readonly superuser: boolean;
}

export class KafkaAcl {
  #rules: readonly KafkaAclRuleSpec[];
  readonly #allowOnNoMatch: boolean;

  constructor(rules: readonly KafkaAclRuleSpec[], noMatch: "allow" | "deny") {
    this.#rules = [...rules];
    this.#allowOnNoMatch = noMatch === "allow";
  }

  /** The whole list, config rules first (the rule book calls this after every change). */
  setRules(rules: readonly KafkaAclRuleSpec[]): void {
    this.#rules = [...rules];
  }

  /** Whether every check passes without looking (no rules, nothing denied by default). */
  get open(): boolean {
    return this.#rules.length === 0 && this.#allowOnNoMatch;
  }

  authorize(
    principal: KafkaPrincipal,
    action: KafkaAclAction,
    name: string,
    resource: KafkaResource = "topic",
  ): boolean {
    if (principal.superuser) return true;
    for (const rule of this.#rules) {
      if (rule.action !== "all" && rule.action !== action) continue;
      if (rule.username !== undefined && rule.username !== principal.username) continue;
      const pattern = resource === "topic" ? rule.topic : rule.group;
      if (pattern === undefined || !nameMatches(pattern, name)) continue;
      return rule.permission === "allow";
    }
    return this.#allowOnNoMatch;
  }

  /** Whether the topic or group may be seen (Metadata, ListOffsets, DescribeGroups, ...). */
  mayDescribe(principal: KafkaPrincipal, name: string, resource: KafkaResource = "topic"): boolean {
    const actions: KafkaAclAction[] =
      resource === "topic" ? ["read", "write", "admin"] : ["read", "admin"];
    return actions.some((action) => this.authorize(principal, action, name, resource));
  }
}

function nameMatches(pattern: string, name: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith("*")) return name.startsWith(pattern.slice(0, -1));
  return pattern === name;
}
