/**
 * Topic rewrite, the pure part: compiling rules and finding the rewrite of one topic or filter.
 * No logging, no config: the shell (topic-rewrite.ts) decides what a valid result is and
 * reports the rules whose result is not.
 *
 * A rule applies when its action covers the packet, its `source_topic` filter matches the
 * topic, and its regular expression matches too; the first such rule decides. (EMQX stops at
 * the first rule whose filter matches even when its expression does not; here such a rule is
 * skipped, so a narrower expression can sit before a broader one on the same filter.)
 */
import { assert } from "../../../errors.ts";
import { filterMatchesTopic } from "../../../security/acl/topic-cover.ts";
import { REWRITE_GROUP_REF_MAX, REWRITE_REGEX_CHARS_MAX } from "./limits.ts";
import type { RewriteRule } from "./types.ts";

const CHAR_DOLLAR = 0x24; // '$'
const CHAR_ONE = 0x31; // '1'

/**
 * Expressions run with the `u` flag: `.` and groups then hold whole code points, so a capture
 * never splits a surrogate pair into text that is not valid UTF-8 on the wire.
 */
const REGEX_FLAGS = "u";

/** A destination split into literal text and capture group numbers: ["a/", 1, "/b"]. */
export type DestTemplate = readonly (string | number)[];

export interface CompiledRewrite {
  readonly rule: RewriteRule;
  readonly publish: boolean;
  readonly subscribe: boolean;
  readonly re: RegExp;
  readonly dest: DestTemplate;
}

/** The rewrite of one topic: the rule that made it and the new topic (not yet validated). */
export interface Rewritten {
  readonly rule: CompiledRewrite;
  readonly topic: string;
}

/** Compiles `text` as a rule's expression; a string is what is wrong with it. */
export function compileRegex(text: string): RegExp | string {
  if (text.length === 0) return "is empty";
  if (text.length > REWRITE_REGEX_CHARS_MAX) {
    return `is longer than ${REWRITE_REGEX_CHARS_MAX} characters`;
  }
  try {
    return new RegExp(text, REGEX_FLAGS);
  } catch (err) {
    return `is not a valid regular expression (${(err as Error).message})`;
  }
}

/** How many capture groups (numbered or named) an expression has. */
export function captureGroupCount(re: RegExp): number {
  // An empty alternative matches "", and the match array has one slot per group.
  const match = new RegExp(`${re.source}|`, re.flags).exec("");
  assert(match !== null, "an empty alternative always matches");
  return match.length - 1;
}

/** Splits `$1`..`$9` out of a destination; any other '$' stays literal ("$SYS", "$0"). */
export function parseDestTemplate(dest: string): DestTemplate {
  const parts: (string | number)[] = [];
  let start = 0;
  for (let i = 0; i + 1 < dest.length; i++) {
    if (dest.charCodeAt(i) !== CHAR_DOLLAR) continue;
    const group = dest.charCodeAt(i + 1) - CHAR_ONE + 1;
    if (group < 1 || group > REWRITE_GROUP_REF_MAX) continue;
    if (i > start) parts.push(dest.slice(start, i));
    parts.push(group);
    start = i + 2;
    i++;
  }
  if (start < dest.length || parts.length === 0) parts.push(dest.slice(start));
  return parts;
}

/** The highest group a template refers to; 0 when none. */
export function highestGroupRef(template: DestTemplate): number {
  let highest = 0;
  for (const part of template) if (typeof part === "number" && part > highest) highest = part;
  return highest;
}

/** The template with every group reference replaced by `stand_in`, to check its shape. */
export function fillWith(template: DestTemplate, standIn: string): string {
  let out = "";
  for (const part of template) out += typeof part === "number" ? standIn : part;
  return out;
}

/** Fills a template from a match; a group that took part in no match is empty. */
export function fillTemplate(template: DestTemplate, match: RegExpExecArray): string {
  let out = "";
  for (let i = 0; i < template.length; i++) {
    const part = template[i];
    out += typeof part === "number" ? (match[part] ?? "") : part;
  }
  return out;
}

/** A rule made ready to run; its spec was validated when it was loaded or added. */
export function compileRewrite(rule: RewriteRule): CompiledRewrite {
  const re = compileRegex(rule.re);
  assert(typeof re !== "string", `rewrite rule ${rule.id}: expression ${re}`);
  const dest = parseDestTemplate(rule.dest_topic);
  assert(highestGroupRef(dest) <= captureGroupCount(re), `rewrite rule ${rule.id}: groups`);
  return {
    rule,
    publish: rule.action !== "subscribe",
    subscribe: rule.action !== "publish",
    re,
    dest,
  };
}

/**
 * The first rule of `rules` whose filter and expression both match `topic`, and what it makes
 * of it; null when none applies. `topic` is a topic name, or a filter (without any share
 * prefix) for SUBSCRIBE, whose '+' and '#' the source filter's levels match literally.
 */
export function findRewrite(rules: readonly CompiledRewrite[], topic: string): Rewritten | null {
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i];
    if (!filterMatchesTopic(rule.rule.source_topic, topic)) continue;
    const match = rule.re.exec(topic);
    if (match === null) continue;
    return { rule, topic: fillTemplate(rule.dest, match) };
  }
  return null;
}
