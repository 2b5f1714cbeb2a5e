/**
 * The [kafka_acl] rule list as the broker runs it: the config file's rules first (read-only at
 * run time), then the rules added through the admin API, kept in the security store in their
 * order (storage/rule-book.ts). The KafkaAcl gets the whole list on load and after every
 * change, once the change is on disk.
 */
import type { Database } from "lmdb";
import {
  RuleBook,
  type RuleIdentity,
  type RuleKind,
  type RuleSource,
} from "../../storage/rule-book.ts";
import { type KafkaAcl, KafkaAclRuleSchema, type KafkaAclRuleSpec } from "./kafka-acl.ts";

/** Rules the admin API may add; the config file's rules do not count. */
export const KAFKA_ACL_API_RULES_MAX = 100_000;

export type KafkaAclRule = KafkaAclRuleSpec & RuleIdentity;
export type KafkaAclRuleBook = RuleBook<KafkaAclRuleSpec, KafkaAclRule>;

/** The rule with only the spec's fields, in a fixed order, and no `undefined` values. */
function ruleOf(id: string, source: RuleSource, spec: KafkaAclRuleSpec): KafkaAclRule {
  const { permission, action, topic, group, username } = spec;
  return {
    id,
    source,
    permission,
    action,
    ...(topic === undefined ? {} : { topic }),
    ...(group === undefined ? {} : { group }),
    ...(username === undefined ? {} : { username }),
  };
}

const KAFKA_ACL_RULE_KIND: RuleKind<KafkaAclRuleSpec, KafkaAclRule> = {
  noun: "Kafka ACL rule",
  section: "[kafka_acl]",
  apiRulesMax: KAFKA_ACL_API_RULES_MAX,
  schema: KafkaAclRuleSchema,
  ruleOf,
};

/** Reads the API rules in stored order and keeps `acl` on the whole list. */
export function loadKafkaAclRuleBook(
  db: Database<KafkaAclRule, string>,
  configRules: readonly KafkaAclRuleSpec[],
  acl: KafkaAcl,
): KafkaAclRuleBook {
  const book = RuleBook.load(db, configRules, KAFKA_ACL_RULE_KIND);
  book.watch((rules) => acl.setRules(rules));
  return book;
}
