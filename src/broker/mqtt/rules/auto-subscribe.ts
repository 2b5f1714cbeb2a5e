/**
 * Auto-subscribe, the pure part: a rule's topic with `%u` (user name) and `%c` (client id)
 * filled in for one client. A value that is absent, empty, or holds '+', '#', '/' or NUL could
 * widen the filter ("%u/#" for user "+" would be "+/#", for "a/b" a deeper level), so a rule
 * that needs such a value is skipped for that client (the ACL's rule for placeholders).
 */
import {
  compileTopicTemplate,
  fillTemplate,
  type TopicTemplate,
} from "../../../security/topic-template.ts";
import type { AutoSubscribeRule } from "./types.ts";

export interface CompiledAutoSubscribe {
  readonly rule: AutoSubscribeRule;
  /** null when the topic holds no placeholder and is used as written. */
  readonly template: TopicTemplate | null;
}

export function compileAutoSubscribe(rule: AutoSubscribeRule): CompiledAutoSubscribe {
  return { rule, template: compileTopicTemplate(rule.topic) };
}

/**
 * The rule's topic for this client, or null when a placeholder it needs has no safe value.
 * Values go in as they are, so a '%' inside one is never expanded again.
 */
export function topicFor(
  compiled: CompiledAutoSubscribe,
  clientId: string,
  username: string | undefined,
): string | null {
  const template = compiled.template;
  return template === null ? compiled.rule.topic : fillTemplate(template, username, clientId);
}
