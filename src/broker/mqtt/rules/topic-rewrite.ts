/**
 * Topic rewrite as the broker runs it: the rule book's list compiled into one list per action,
 * and the checks on a rewritten topic. Called from the PUBLISH handler after the topic is
 * validated and from SUBSCRIBE / UNSUBSCRIBE on the filter part (see ../filter-prefixes.ts),
 * always before the ACL check, routing and retained handling, so those see the new topic.
 *
 * A rewrite whose result is not a valid topic (a publish rule's result with a wildcard, too
 * many levels, an empty level where a name is needed...) leaves the topic as it was; the
 * rule is reported once in the log, not once per message.
 */
import type { Logger } from "../../../log/logger.ts";
import type { RuleBook, RuleKind } from "../../../storage/rule-book.ts";
import { hasSpecialPrefix } from "../filter-prefixes.ts";
import { topicLevelCount, validateTopicFilter, validateTopicName } from "../topic.ts";
import { API_RULES_MAX } from "./limits.ts";
import { type CompiledRewrite, compileRewrite, findRewrite, type Rewritten } from "./rewrite.ts";
import { RewriteRuleSpecSchema } from "./rule-schema.ts";
import type { RewriteRule, RewriteRuleSpec } from "./types.ts";

export type RewriteBook = RuleBook<RewriteRuleSpec, RewriteRule>;

export const REWRITE_RULE_KIND: RuleKind<RewriteRuleSpec, RewriteRule> = {
  noun: "topic rewrite rule",
  section: "[mqtt_topic_rewrite]",
  apiRulesMax: API_RULES_MAX,
  schema: RewriteRuleSpecSchema,
  ruleOf: (id, source, spec) => ({
    id,
    source,
    action: spec.action,
    source_topic: spec.source_topic,
    re: spec.re,
    dest_topic: spec.dest_topic,
  }),
};

const NO_RULES: readonly CompiledRewrite[] = [];

export class TopicRewrite {
  readonly rules: RewriteBook;
  /** Rules whose action covers PUBLISH, in order; empty when none (the hot path's check). */
  publishRules: readonly CompiledRewrite[] = NO_RULES;
  /** Rules whose action covers SUBSCRIBE and UNSUBSCRIBE, in order. */
  subscribeRules: readonly CompiledRewrite[] = NO_RULES;
  readonly #levelsMax: number;
  readonly #logger: Logger;
  /** Rules already reported for an invalid result (a rule change compiles fresh objects). */
  readonly #warned = new WeakSet<CompiledRewrite>();

  constructor(rules: RewriteBook, topicLevelsMax: number, logger: Logger) {
    this.rules = rules;
    this.#levelsMax = topicLevelsMax;
    this.#logger = logger;
    rules.watch((list) => this.#compile(list));
  }

  /** A PUBLISH topic (already validated), rewritten by the first rule that applies. */
  rewriteTopic(topic: string): string {
    const found = findRewrite(this.publishRules, topic);
    if (found === null) return topic;
    if (validateTopicName(found.topic) && this.#levelsFit(found.topic)) return found.topic;
    this.#reportInvalid(found, topic, "topic name");
    return topic;
  }

  /** A SUBSCRIBE / UNSUBSCRIBE filter without its prefix, rewritten likewise. */
  rewriteFilter(filter: string): string {
    if (!validateTopicFilter(filter) || hasSpecialPrefix(filter)) return filter;
    const found = findRewrite(this.subscribeRules, filter);
    if (found === null) return filter;
    const result = found.topic;
    if (validateTopicFilter(result) && !hasSpecialPrefix(result) && this.#levelsFit(result)) {
      return result;
    }
    this.#reportInvalid(found, filter, "topic filter");
    return filter;
  }

  #levelsFit(topic: string): boolean {
    return topicLevelCount(topic) <= this.#levelsMax;
  }

  #reportInvalid(found: Rewritten, original: string, what: string): void {
    if (this.#warned.has(found.rule)) return;
    this.#warned.add(found.rule);
    this.#logger.warn(
      { rule: found.rule.rule.id, topic: original, rewritten: found.topic },
      `topic rewrite result is not a valid ${what}: topic kept (reported once per rule)`,
    );
  }

  #compile(list: readonly RewriteRule[]): void {
    const compiled = list.map(compileRewrite);
    const publish = compiled.filter((rule) => rule.publish);
    const subscribe = compiled.filter((rule) => rule.subscribe);
    this.publishRules = publish.length === 0 ? NO_RULES : publish;
    this.subscribeRules = subscribe.length === 0 ? NO_RULES : subscribe;
  }
}
