/**
 * Authorization of Kafka requests by topic ([kafka_acl], docs/kafka.md "Authorization"): an
 * ordered rule list, first match decides, `no_match` otherwise; superusers pass every check.
 * Three actions: `read` (Fetch, committed offsets), `write` (Produce), `admin` (creating,
 * deleting and growing topics, deleting offsets). Seeing a topic at all (Metadata, ListOffsets,
 * DescribeConfigs) needs any of the three, as Kafka's DESCRIBE is implied by READ, WRITE,
 * CREATE, DELETE and ALTER.
 *
 * MQTT topics bridged to Kafka are guarded here, not by [mqtt_acl]: a Kafka client reads a
 * Kafka topic, whatever filled it.
 */
import { z } from "zod";

export const KAFKA_ACL_ACTIONS = ["read", "write", "admin", "all"] as const;
export type KafkaAclAction = Exclude<(typeof KAFKA_ACL_ACTIONS)[number], "all">;

/** A Kafka topic name, a prefix ending in "*", or "*" alone. */
const TOPIC_PATTERN = /^(?:[A-Za-z0-9._-]{1,249}\*?|\*)$/;

export const KafkaAclRuleSchema = z.strictObject({
  permission: z.enum(["allow", "deny"]),
  action: z.enum(KAFKA_ACL_ACTIONS),
  topic: z.string().regex(TOPIC_PATTERN, 'a topic name, a prefix ending in "*", or "*"'),
  username: z.string().min(1).max(65_535).optional(),
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

  authorize(principal: KafkaPrincipal, action: KafkaAclAction, topic: string): boolean {
    if (principal.superuser) return true;
    for (const rule of this.#rules) {
      if (rule.action !== "all" && rule.action !== action) continue;
      if (rule.username !== undefined && rule.username !== principal.username) continue;
      if (!topicMatches(rule.topic, topic)) continue;
      return rule.permission === "allow";
    }
    return this.#allowOnNoMatch;
  }

  /** Whether the topic may be seen (Metadata, ListOffsets, DescribeConfigs). */
  mayDescribe(principal: KafkaPrincipal, topic: string): boolean {
    return (
      this.authorize(principal, "read", topic) ||
      this.authorize(principal, "write", topic) ||
      this.authorize(principal, "admin", topic)
    );
  }
}

function topicMatches(pattern: string, topic: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith("*")) return topic.startsWith(pattern.slice(0, -1));
  return pattern === topic;
}
