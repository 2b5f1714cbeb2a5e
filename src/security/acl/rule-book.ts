/**
 * The ACL rule list as the broker runs it: the [mqtt_acl] rules from the config file first
 * (read-only at run time), then the rules added through the admin API, kept in the security
 * store in their order (see RuleBook). The Acl gets the whole list on load and after every
 * change, once the change is on disk.
 */
import type { Database } from "lmdb";
import { RuleBook, type RuleKind, type RuleSource } from "../../storage/rule-book.ts";
import type { AclRule, AclRuleSpec } from "../types.ts";
import type { Acl } from "./acl.ts";
import { AclRuleSpecSchema } from "./rule-schema.ts";

/** Rules the admin API may add; the config file's rules do not count. */
export const ACL_API_RULES_MAX = 100_000;

export type AclRuleBook = RuleBook<AclRuleSpec, AclRule>;

/** The rule with only the spec's fields, in a fixed order, and no `undefined` values. */
function ruleOf(id: string, source: RuleSource, spec: AclRuleSpec): AclRule {
  const rule: {
    -readonly [K in keyof AclRule]: AclRule[K];
  } = { id, source, permission: spec.permission, action: spec.action, topic: spec.topic };
  if (spec.username !== undefined) rule.username = spec.username;
  if (spec.client_id !== undefined) rule.client_id = spec.client_id;
  if (spec.ip !== undefined) rule.ip = spec.ip;
  return rule;
}

const ACL_RULE_KIND: RuleKind<AclRuleSpec, AclRule> = {
  noun: "ACL rule",
  section: "[mqtt_acl]",
  apiRulesMax: ACL_API_RULES_MAX,
  schema: AclRuleSpecSchema,
  ruleOf,
};

/** Reads the API rules in stored order and keeps `acl` on the whole list. */
export function loadAclRuleBook(
  db: Database<AclRule, string>,
  configRules: readonly AclRuleSpec[],
  acl: Acl,
): AclRuleBook {
  const book = RuleBook.load(db, configRules, ACL_RULE_KIND);
  book.watch((rules) => acl.setRules(rules));
  return book;
}
