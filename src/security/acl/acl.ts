/**
 * Authorization: ordered allow/deny rules, first match decides, `noMatch` when none applies
 * (the EMQX model, docs/security.md).
 *
 * Rules are compiled once in `setRules`, never per check. A check must not walk rules that
 * cannot apply, so rules sit in buckets: by exact user name, by exact client id, or "anyone";
 * inside a bucket by the literal first level of the topic filter, or "any first level". A
 * check merges its few candidate lists (CANDIDATE_LISTS_MAX) by rule order, so first-match
 * order holds across buckets. 10,000 per-user rules cost a check three map lookups and a
 * few rule tests; a filter's level count rejects most remaining rules before any matching.
 *
 * Placeholders `%u` / `%c` are filled in per check. A value that is absent, empty, or holds
 * '+', '#', '/' or NUL could widen a filter ("%u/#" for user "+" would become "+/#"), so an
 * ALLOW rule with such a value never applies, and a DENY rule with one applies to everything
 * its action covers: failing closed.
 */
import { BlockList, isIP } from "node:net";
import { topicLevelCount, validateTopicFilter } from "../../broker/mqtt/topic.ts";
import { assert } from "../../errors.ts";
import {
  compileTopicTemplate,
  fillTemplate,
  isSafePlaceholderValue,
  type TopicTemplate,
} from "../topic-template.ts";
import type { AclRule, Principal } from "../types.ts";
import { isIpOrCidr } from "./rule-schema.ts";
import { filterCovers, filterMatchesTopic, filtersOverlap } from "./topic-cover.ts";

export type AclNoMatch = "allow" | "deny";

/** Per principal at most three buckets, each offering at most three lists. */
const CANDIDATE_LISTS_MAX = 9;
/** Publishing to a topic starting with this is always refused: only the broker writes there. */
const SYS_PREFIX = "$SYS";

interface CompiledRule {
  /** Position in `rules`: the merge key that keeps first-match order across buckets. */
  readonly order: number;
  readonly allow: boolean;
  readonly publish: boolean;
  readonly subscribe: boolean;
  readonly username: string | undefined;
  readonly clientId: string | undefined;
  readonly ip: BlockList | null;
  readonly topic: string;
  /** null when the topic holds no placeholder and is used as written. */
  readonly template: TopicTemplate | null;
  /** Levels of the filter, also after substitution (a safe value holds no '/'). */
  readonly levelCount: number;
  readonly endsWithHash: boolean;
}

const EMPTY: readonly CompiledRule[] = [];

function compileIp(ip: string): BlockList {
  const list = new BlockList();
  const slash = ip.indexOf("/");
  const address = slash < 0 ? ip : ip.slice(0, slash);
  const family = isIP(address) === 6 ? "ipv6" : "ipv4";
  if (slash < 0) list.addAddress(address, family);
  else list.addSubnet(address, Number(ip.slice(slash + 1)), family);
  return list;
}

function compileRule(rule: AclRule, order: number): CompiledRule {
  assert(validateTopicFilter(rule.topic), `ACL rule ${rule.id}: invalid topic filter`);
  assert(rule.ip === undefined || isIpOrCidr(rule.ip), `ACL rule ${rule.id}: invalid ip`);
  return {
    order,
    allow: rule.permission === "allow",
    publish: rule.action !== "subscribe",
    subscribe: rule.action !== "publish",
    username: rule.username,
    clientId: rule.client_id,
    ip: rule.ip === undefined ? null : compileIp(rule.ip),
    topic: rule.topic,
    template: compileTopicTemplate(rule.topic),
    levelCount: topicLevelCount(rule.topic),
    endsWithHash: rule.topic.endsWith("#"),
  };
}

/** The first level of a topic or filter: "a" for "a/b", the whole text when it has no '/'. */
function firstLevel(text: string): string {
  const slash = text.indexOf("/");
  return slash < 0 ? text : text.slice(0, slash);
}

function isWildcardLevel(level: string): boolean {
  return level === "+" || level === "#";
}

/**
 * The rules of one principal bucket. `byFirstLevel` holds rules whose filter starts with a
 * fixed literal level, which only requests with that same first level can touch; `anyFirstLevel`
 * holds the rest (a wildcard or a placeholder in the first level). Two lists repeat rules for
 * rarer requests: `literalDeny` has the DENY rules of `byFirstLevel`, which a subscription
 * starting with a wildcard can overlap whatever their first level; `failClosed` has those of
 * them with a placeholder, which apply to every topic when the principal's value is unsafe.
 */
class RuleBucket {
  readonly byFirstLevel: Map<string, CompiledRule[]>;
  readonly anyFirstLevel: CompiledRule[];
  readonly literalDeny: CompiledRule[];
  readonly failClosed: CompiledRule[];

  constructor() {
    this.byFirstLevel = new Map();
    this.anyFirstLevel = [];
    this.literalDeny = [];
    this.failClosed = [];
  }

  /** Rules must be added in rule order so that every list stays sorted by `order`. */
  add(rule: CompiledRule): void {
    const level = firstLevel(rule.topic);
    if (isWildcardLevel(level) || compileTopicTemplate(level) !== null) {
      this.anyFirstLevel.push(rule);
      return;
    }
    let list = this.byFirstLevel.get(level);
    if (list === undefined) {
      list = [];
      this.byFirstLevel.set(level, list);
    }
    list.push(rule);
    if (rule.allow) return;
    this.literalDeny.push(rule);
    if (rule.template !== null) this.failClosed.push(rule);
  }
}

function bucketFor(buckets: Map<string, RuleBucket>, key: string): RuleBucket {
  let bucket = buckets.get(key);
  if (bucket === undefined) {
    bucket = new RuleBucket();
    buckets.set(key, bucket);
  }
  return bucket;
}

function familyOf(ip: string): "ipv4" | "ipv6" {
  return isIP(ip) === 6 ? "ipv6" : "ipv4";
}

export class Acl {
  readonly noMatch: AclNoMatch;
  #rules: readonly AclRule[];
  #version: number;
  #byUsername: Map<string, RuleBucket>;
  #byClientId: Map<string, RuleBucket>;
  #anyone: RuleBucket;
  /** Scratch space for one check's merge; checks are synchronous, so one set is enough. */
  readonly #lists: (readonly CompiledRule[])[];
  readonly #cursors: number[];

  constructor(noMatch: AclNoMatch) {
    assert(noMatch === "allow" || noMatch === "deny", "noMatch is allow or deny");
    this.noMatch = noMatch;
    this.#rules = [];
    this.#version = 0;
    this.#byUsername = new Map();
    this.#byClientId = new Map();
    this.#anyone = new RuleBucket();
    this.#lists = new Array<readonly CompiledRule[]>(CANDIDATE_LISTS_MAX).fill(EMPTY);
    this.#cursors = new Array<number>(CANDIDATE_LISTS_MAX).fill(0);
  }

  /** Bumped by every `setRules`; per-connection caches compare it (acl-cache.ts). */
  get version(): number {
    return this.#version;
  }

  get rules(): readonly AclRule[] {
    return this.#rules;
  }

  /** Compiles and indexes `rules`, in this order; the previous set is dropped whole. */
  setRules(rules: readonly AclRule[]): void {
    const byUsername = new Map<string, RuleBucket>();
    const byClientId = new Map<string, RuleBucket>();
    const anyone = new RuleBucket();
    for (let order = 0; order < rules.length; order++) {
      const rule = compileRule(rules[order], order);
      // A rule naming both a user and a client goes by user name and tests the client id.
      if (rule.username !== undefined) bucketFor(byUsername, rule.username).add(rule);
      else if (rule.clientId !== undefined) bucketFor(byClientId, rule.clientId).add(rule);
      else anyone.add(rule);
    }
    this.#rules = Object.freeze([...rules]);
    this.#byUsername = byUsername;
    this.#byClientId = byClientId;
    this.#anyone = anyone;
    this.#version++;
  }

  authorizePublish(principal: Principal, topic: string): boolean {
    if (topic.startsWith(SYS_PREFIX)) return false; // even for superusers
    if (principal.superuser) return true;
    return this.#decide(principal, topic, false);
  }

  /** `filter` is the plain filter: the caller takes any `$share/{group}/` prefix off first. */
  authorizeSubscribe(principal: Principal, filter: string): boolean {
    if (principal.superuser) return true;
    return this.#decide(principal, filter, true);
  }

  #decide(principal: Principal, text: string, subscribe: boolean): boolean {
    const listCount = this.#gatherCandidates(principal, text, subscribe);
    const levelCount = subscribe ? -1 : topicLevelCount(text);
    const lists = this.#lists;
    const cursors = this.#cursors;
    let family: "ipv4" | "ipv6" | null = null;
    // Merge by rule order: each round takes the smallest head among the candidate lists.
    for (;;) {
      let best = -1;
      let bestOrder = Number.POSITIVE_INFINITY;
      for (let i = 0; i < listCount; i++) {
        const list = lists[i];
        if (cursors[i] < list.length && list[cursors[i]].order < bestOrder) {
          best = i;
          bestOrder = list[cursors[i]].order;
        }
      }
      if (best < 0) break;
      const rule = lists[best][cursors[best]];
      cursors[best]++;
      if (!(subscribe ? rule.subscribe : rule.publish)) continue;
      if (rule.username !== undefined && rule.username !== principal.username) continue;
      if (rule.clientId !== undefined && rule.clientId !== principal.clientId) continue;
      if (rule.ip !== null) {
        family ??= familyOf(principal.ip);
        if (!rule.ip.check(principal.ip, family)) continue;
      }
      if (topicApplies(rule, principal, text, levelCount)) {
        this.#releaseCandidates(listCount);
        return rule.allow;
      }
    }
    this.#releaseCandidates(listCount);
    return this.noMatch === "allow";
  }

  /** Fills #lists with the candidate lists for this request; returns how many. */
  #gatherCandidates(principal: Principal, text: string, subscribe: boolean): number {
    const level = firstLevel(text);
    // A subscription starting with a wildcard can only be covered by a wildcard-first rule,
    // but a DENY rule on any literal first level can overlap it.
    const wildRequest = subscribe && isWildcardLevel(level);
    const unsafe =
      !isSafePlaceholderValue(principal.username) || !isSafePlaceholderValue(principal.clientId);
    let count = 0;
    if (principal.username !== undefined) {
      const bucket = this.#byUsername.get(principal.username);
      if (bucket !== undefined) count = this.#addLists(count, bucket, level, wildRequest, unsafe);
    }
    const byClient = this.#byClientId.get(principal.clientId);
    if (byClient !== undefined) count = this.#addLists(count, byClient, level, wildRequest, unsafe);
    count = this.#addLists(count, this.#anyone, level, wildRequest, unsafe);
    assert(count <= CANDIDATE_LISTS_MAX, "candidate lists overflow");
    return count;
  }

  /** A rule may sit in two of the lists; visiting it twice gives the same answer twice. */
  #addLists(
    count: number,
    bucket: RuleBucket,
    level: string,
    wildRequest: boolean,
    unsafe: boolean,
  ): number {
    this.#cursors[count] = 0;
    this.#lists[count++] = bucket.anyFirstLevel;
    this.#cursors[count] = 0;
    this.#lists[count++] = wildRequest
      ? bucket.literalDeny
      : (bucket.byFirstLevel.get(level) ?? EMPTY);
    if (unsafe && !wildRequest && bucket.failClosed.length > 0) {
      this.#cursors[count] = 0;
      this.#lists[count++] = bucket.failClosed;
    }
    return count;
  }

  /** Drops the scratch references so no old list is kept alive past a `setRules`. */
  #releaseCandidates(listCount: number): void {
    for (let i = 0; i < listCount; i++) this.#lists[i] = EMPTY;
  }
}

/**
 * Whether the rule's filter touches the request. `levelCount` is the publish topic's level
 * count, or -1 for a subscription: a filter of n levels only matches topics of n levels, or
 * of n - 1 or more when it ends in '#', which rejects most rules without substituting.
 */
function topicApplies(
  rule: CompiledRule,
  principal: Principal,
  text: string,
  levelCount: number,
): boolean {
  let filter = rule.topic;
  if (rule.template !== null) {
    const filled = fillTemplate(rule.template, principal.username, principal.clientId);
    // Fail closed: an unsafe value voids an ALLOW rule and widens a DENY rule to everything.
    if (filled === null) return !rule.allow;
    filter = filled;
  }
  if (levelCount >= 0) {
    const fits = rule.endsWithHash
      ? levelCount >= rule.levelCount - 1
      : levelCount === rule.levelCount;
    if (!fits) return false;
  }
  if (levelCount >= 0) return filterMatchesTopic(filter, text);
  return rule.allow ? filterCovers(filter, text) : filtersOverlap(filter, text);
}
