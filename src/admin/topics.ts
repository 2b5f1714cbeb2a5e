/**
 * The MQTT topics resource (GET /api/v1/topics): every topic filter the router holds, with
 * how many subscribers it reaches and whether a retained message sits on it. Pure: the route
 * feeds it the sessions' subscriptions when a request asks, so the router and its hot path
 * keep nothing for the admin API.
 *
 * Subscribers are counted as the router delivers: a normal subscription is one subscriber,
 * and a share group is as many as its members (each one may receive), listed per group too.
 */

import { hasWildcard } from "../broker/mqtt/topic.ts";
import { assert } from "../errors.ts";

/** What a topic view needs of a subscription (a Session's Subscription has both). */
export interface TopicSubscription {
  /** The filter matched against topic names, without any `$share/{group}/` prefix. */
  readonly matchFilter: string;
  readonly shareGroup: string | null;
}

export interface ShareGroupView {
  group: string;
  members: number;
}

export interface TopicView {
  filter: string;
  wildcard: boolean;
  /** Normal subscriptions plus the members of every share group on the filter. */
  subscribers: number;
  directSubscribers: number;
  shareGroups: ShareGroupView[];
  /** Whether the filter's topic holds a retained message; null for a wildcard filter. */
  retained: boolean | null;
}

export interface TopicQuery {
  /** A topic name: only the filters that match it (those a publish on it would reach). */
  match?: string;
  /** Only the filters containing this text. */
  filter?: string;
}

const LEVEL_SEPARATOR = "/";
const CHAR_DOLLAR = 0x24;

/**
 * Whether `filter` (valid) matches `topic` (a valid topic name), by the rules the router's trie
 * follows: `+` is one level (possibly empty), `#` the rest including the parent level
 * (`a/#` matches `a`), and a wildcard first level never matches a `$` topic [MQTT-4.7.2-1].
 */
export function filterMatchesTopic(filter: string, topic: string): boolean {
  const filterLevels = filter.split(LEVEL_SEPARATOR);
  const topicLevels = topic.split(LEVEL_SEPARATOR);
  const first = filterLevels[0];
  if (topic.charCodeAt(0) === CHAR_DOLLAR && (first === "+" || first === "#")) return false;
  for (let i = 0; i < filterLevels.length; i++) {
    const level = filterLevels[i];
    if (level === "#") return true;
    if (i >= topicLevels.length) return false;
    if (level !== "+" && level !== topicLevels[i]) return false;
  }
  return filterLevels.length === topicLevels.length;
}

/** One filter's subscribers while counting. */
interface Tally {
  direct: number;
  /** Members per share group; made for the first shared subscription only. */
  groups: Map<string, number> | null;
}

/** Counts subscriptions by filter; `names()` then finds them and `view()` shows one. */
export class TopicTally {
  readonly #filters = new Map<string, Tally>();
  #subscriptionCount = 0;

  get filterCount(): number {
    return this.#filters.size;
  }

  add(sub: TopicSubscription): void {
    let tally = this.#filters.get(sub.matchFilter);
    if (tally === undefined) {
      tally = { direct: 0, groups: null };
      this.#filters.set(sub.matchFilter, tally);
    }
    if (sub.shareGroup === null) {
      tally.direct++;
    } else {
      if (tally.groups === null) tally.groups = new Map();
      tally.groups.set(sub.shareGroup, (tally.groups.get(sub.shareGroup) ?? 0) + 1);
    }
    this.#subscriptionCount++;
  }

  /**
   * The filters that pass `query`, in no particular order: the route selects one page of them
   * (sorted by filter) and builds views for that page only.
   */
  names(query: TopicQuery): string[] {
    const { match, filter } = query;
    const names: string[] = [];
    let counted = 0;
    for (const [name, tally] of this.#filters) {
      counted += countOf(tally);
      if (filter !== undefined && !name.includes(filter)) continue;
      if (match !== undefined && !filterMatchesTopic(name, match)) continue;
      names.push(name);
    }
    assert(counted === this.#subscriptionCount, "topic tally lost a subscription");
    return names;
  }

  /** A tallied filter's view; `hasRetained` is asked only for an exact filter. */
  view(name: string, hasRetained: (topic: string) => boolean): TopicView {
    const tally = this.#filters.get(name);
    assert(tally !== undefined, "view of a filter that was not tallied");
    return viewOf(name, tally, hasRetained);
  }
}

/** Code-unit order, as client ids are sorted. */
export function byFilter(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function countOf(tally: Tally): number {
  let count = tally.direct;
  if (tally.groups !== null) for (const members of tally.groups.values()) count += members;
  return count;
}

function viewOf(name: string, tally: Tally, hasRetained: (topic: string) => boolean): TopicView {
  const wildcard = hasWildcard(name);
  const shareGroups: ShareGroupView[] = [];
  if (tally.groups !== null) {
    for (const [group, members] of tally.groups) shareGroups.push({ group, members });
    shareGroups.sort((a, b) => byFilter(a.group, b.group));
  }
  const subscribers = countOf(tally);
  assert(subscribers > 0, "a tallied filter has a subscriber");
  return {
    filter: name,
    wildcard,
    subscribers,
    directSubscribers: tally.direct,
    shareGroups,
    retained: wildcard ? null : hasRetained(name),
  };
}
