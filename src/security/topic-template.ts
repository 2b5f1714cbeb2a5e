/**
 * Topic filters with `%u` (user name) and `%c` (client id) placeholders, as ACL rules and
 * auto-subscribe rules write them. Compiled once per rule; filled in per client.
 *
 * A value that is absent, empty, or holds '+', '#', '/' or NUL could widen the filter ("%u/#"
 * for user "+" would be "+/#", for "a/b" a deeper level), so `fillTemplate` refuses it and the
 * caller decides what a refusal means (the ACL fails closed, auto-subscribe skips the rule).
 */
import { assert } from "../errors.ts";

const CHAR_PERCENT = 0x25; // '%'
const PLACEHOLDER_USERNAME = 0;
const PLACEHOLDER_CLIENT_ID = 1;

/** A topic split around its placeholders: literals[0] p[0] literals[1] ... */
export interface TopicTemplate {
  readonly literals: readonly string[];
  /** PLACEHOLDER_USERNAME or PLACEHOLDER_CLIENT_ID, one per gap between literals. */
  readonly placeholders: readonly number[];
}

/** Splits "%u" and "%c" out of a topic; any other '%' stays literal. Null when there is none. */
export function compileTopicTemplate(topic: string): TopicTemplate | null {
  const literals: string[] = [];
  const placeholders: number[] = [];
  let start = 0;
  for (let i = 0; i + 1 < topic.length; i++) {
    if (topic.charCodeAt(i) !== CHAR_PERCENT) continue;
    const kind = topic[i + 1];
    if (kind !== "u" && kind !== "c") continue;
    literals.push(topic.slice(start, i));
    placeholders.push(kind === "u" ? PLACEHOLDER_USERNAME : PLACEHOLDER_CLIENT_ID);
    start = i + 2;
    i++;
  }
  if (placeholders.length === 0) return null;
  literals.push(topic.slice(start));
  assert(literals.length === placeholders.length + 1, "template shape");
  return { literals, placeholders };
}

/** A substituted value that could not widen a filter: non-empty, no wildcard, separator, NUL. */
export function isSafePlaceholderValue(value: string | undefined): value is string {
  if (value === undefined || value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x2b || c === 0x23 || c === 0x2f || c === 0x00) return false; // + # / NUL
  }
  return true;
}

/**
 * The filter for this client, or null when a value it needs is not safe. Values go in as they
 * are, so a '%' inside one is never expanded again.
 */
export function fillTemplate(
  template: TopicTemplate,
  username: string | undefined,
  clientId: string | undefined,
): string | null {
  let out = template.literals[0];
  for (let i = 0; i < template.placeholders.length; i++) {
    const value = template.placeholders[i] === PLACEHOLDER_USERNAME ? username : clientId;
    if (!isSafePlaceholderValue(value)) return null;
    out += value + template.literals[i + 1];
  }
  return out;
}

/** The topic with every placeholder replaced by `standIn`, to check its shape. */
export function topicWith(topic: string, standIn: string): string {
  const template = compileTopicTemplate(topic);
  return template === null ? topic : (fillTemplate(template, standIn, standIn) ?? topic);
}
