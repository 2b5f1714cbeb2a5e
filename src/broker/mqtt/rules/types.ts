/**
 * The words of topic rules: topic rewrite rules and auto-subscribe rules, as written in the
 * config file and the admin API (spec) and as the broker holds them (rule = spec + identity).
 * Everything here is data: no I/O.
 */

export const REWRITE_ACTIONS = ["publish", "subscribe", "all"] as const;
export type RewriteAction = (typeof REWRITE_ACTIONS)[number];

import type { RuleIdentity } from "../../../storage/rule-book.ts";

/**
 * A topic rewrite rule (EMQX's model): when `source_topic` matches the topic (or filter) and
 * `re` matches it too, it becomes `dest_topic` with `$1`..`$9` replaced by `re`'s groups.
 */
export interface RewriteRuleSpec {
  readonly action: RewriteAction;
  /** A topic filter the topic (or, for SUBSCRIBE, the filter) must match. */
  readonly source_topic: string;
  /** A JavaScript regular expression, without delimiters or flags. */
  readonly re: string;
  /** The new topic or filter; `$1`..`$9` are `re`'s capture groups. */
  readonly dest_topic: string;
}

export interface RewriteRule extends RewriteRuleSpec, RuleIdentity {}

/**
 * A subscription every client gets right after CONNACK. `topic` may hold `%u` (user name) and
 * `%c` (client id), and may start with `$share/<group>/`, `$queue/` or `$exclusive/`.
 */
export interface AutoSubscribeRuleSpec {
  readonly topic: string;
  readonly qos: 0 | 1 | 2;
  readonly no_local: boolean;
  readonly retain_as_published: boolean;
  readonly retain_handling: 0 | 1 | 2;
}

export interface AutoSubscribeRule extends AutoSubscribeRuleSpec, RuleIdentity {}
