/**
 * Auto-subscribe, the pure part: a rule's topic with `%u` (user name) and `%c` (client id)
 * filled in for one client. A value that is absent, empty, or holds '+', '#', '/' or NUL could
 * widen the filter ("%u/#" for user "+" would be "+/#", for "a/b" a deeper level), so a rule
 * that needs such a value is skipped for that client (the ACL's rule for placeholders).
 */
import { assert } from "../../../errors.ts";
import { isSafePlaceholderValue } from "../../../security/acl/acl.ts";
import type { AutoSubscribeRule } from "./types.ts";

const CHAR_PERCENT = 0x25; // '%'
const USERNAME = 0;
const CLIENT_ID = 1;

/** A topic split around its placeholders: literals[0] p[0] literals[1] ... */
export interface TopicTemplate {
  readonly literals: readonly string[];
  /** USERNAME or CLIENT_ID, one per gap between literals. */
  readonly placeholders: readonly number[];
}

export interface CompiledAutoSubscribe {
  readonly rule: AutoSubscribeRule;
  /** null when the topic holds no placeholder and is used as written. */
  readonly template: TopicTemplate | null;
}

/** Splits "%u" and "%c" out of a topic; any other '%' stays literal. */
export function compileTopicTemplate(topic: string): TopicTemplate | null {
  const literals: string[] = [];
  const placeholders: number[] = [];
  let start = 0;
  for (let i = 0; i + 1 < topic.length; i++) {
    if (topic.charCodeAt(i) !== CHAR_PERCENT) continue;
    const kind = topic[i + 1];
    if (kind !== "u" && kind !== "c") continue;
    literals.push(topic.slice(start, i));
    placeholders.push(kind === "u" ? USERNAME : CLIENT_ID);
    start = i + 2;
    i++;
  }
  if (placeholders.length === 0) return null;
  literals.push(topic.slice(start));
  assert(literals.length === placeholders.length + 1, "template shape");
  return { literals, placeholders };
}

/** The topic with every placeholder replaced by `standIn`, to check its shape. */
export function topicWith(topic: string, standIn: string): string {
  const template = compileTopicTemplate(topic);
  if (template === null) return topic;
  let out = template.literals[0];
  for (let i = 0; i < template.placeholders.length; i++) out += standIn + template.literals[i + 1];
  return out;
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
  if (template === null) return compiled.rule.topic;
  let out = template.literals[0];
  for (let i = 0; i < template.placeholders.length; i++) {
    const value = template.placeholders[i] === USERNAME ? username : clientId;
    if (!isSafePlaceholderValue(value)) return null;
    out += value + template.literals[i + 1];
  }
  return out;
}
