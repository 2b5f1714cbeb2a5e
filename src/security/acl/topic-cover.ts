/**
 * Set relations between MQTT topic filters, as ACL checks need them (MQTT 5 section 4.7):
 * does a filter match a topic, does one filter's set of topics contain another's, do two
 * filters share a topic. Pure functions that walk the strings level by level by index, so
 * they allocate nothing: the ACL runs them once per candidate rule.
 *
 * All three keep [MQTT-4.7.2-1]: a filter starting with '+' or '#' never matches a topic
 * starting with '$', so "#" neither covers nor overlaps "$SYS/#".
 */
import { isSysTopic } from "../../broker/mqtt/topic.ts";

const CHAR_HASH = 0x23; // '#'
const CHAR_PLUS = 0x2b; // '+'

function startsWithWildcard(filter: string): boolean {
  const c = filter.charCodeAt(0);
  return c === CHAR_PLUS || c === CHAR_HASH;
}

/** True when `text[start, end)` is exactly one '+' (a single-level wildcard level). */
function isPlusLevel(text: string, start: number, end: number): boolean {
  return end === start + 1 && text.charCodeAt(start) === CHAR_PLUS;
}

function levelEnd(text: string, start: number): number {
  const slash = text.indexOf("/", start);
  return slash < 0 ? text.length : slash;
}

function sameLevel(
  a: string,
  aStart: number,
  aEnd: number,
  b: string,
  bStart: number,
  bEnd: number,
) {
  if (aEnd - aStart !== bEnd - bStart) return false;
  for (let i = 0; i < aEnd - aStart; i++) {
    if (a.charCodeAt(aStart + i) !== b.charCodeAt(bStart + i)) return false;
  }
  return true;
}

/**
 * MQTT matching of a topic name against a filter: '+' is any one level, a trailing '#' any
 * number of levels including none ("a/#" matches "a"). Walks both strings once by index.
 */
export function filterMatchesTopic(filter: string, topic: string): boolean {
  if (isSysTopic(topic) && startsWithWildcard(filter)) return false; // [MQTT-4.7.2-1]
  let f = 0;
  let t = 0;
  // Each pass consumes one level of each; a level ends at the next '/', so this is bounded.
  for (;;) {
    if (filter.charCodeAt(f) === CHAR_HASH) return true; // [MQTT-4.7.1-2] rest of the levels
    const fEnd = levelEnd(filter, f);
    const tEnd = levelEnd(topic, t);
    if (!isPlusLevel(filter, f, fEnd) && !sameLevel(filter, f, fEnd, topic, t, tEnd)) {
      return false;
    }
    const filterDone = fEnd === filter.length;
    const topicDone = tEnd === topic.length;
    if (filterDone || topicDone) {
      if (filterDone && topicDone) return true;
      // The topic ran out first: only a final "/#" (zero more levels) still matches.
      return topicDone && endsWithHashAfter(filter, fEnd);
    }
    f = fEnd + 1;
    t = tEnd + 1;
  }
}

/** True when some topic this filter matches starts with '$' (its first level is literal). */
function reachesDollarTopics(filter: string): boolean {
  return isSysTopic(filter);
}

/** True when `text` ends right after the level ending at `end` with one more level, "#". */
function endsWithHashAfter(text: string, end: number): boolean {
  return end + 2 === text.length && text.charCodeAt(end + 1) === CHAR_HASH;
}

/**
 * True iff every topic matched by `inner` is also matched by `outer`. Used to allow a
 * subscription only when a rule's filter contains all of it: "a/#" covers "a/+/b", "a/#"
 * and "a"; "a/+" covers "a/b" but not "a/#"; "#" does not cover "$SYS/x".
 * Walks both filters level by level, by index, like `filterMatchesTopic`.
 */
export function filterCovers(outer: string, inner: string): boolean {
  // A wildcard-first outer misses every '$' topic, and a '$'-first inner matches only those.
  if (startsWithWildcard(outer) && reachesDollarTopics(inner)) return false;
  let o = 0;
  let n = 0;
  for (;;) {
    if (outer.charCodeAt(o) === CHAR_HASH) return true; // every remaining level of inner
    const oEnd = levelEnd(outer, o);
    const nEnd = levelEnd(inner, n);
    if (inner.charCodeAt(n) === CHAR_HASH) {
      // '#' matches its parent level too, so only '#' covers it; but a whole-filter "#" never
      // matches zero levels (a topic has at least one), and "+/#" matches all of that too.
      return n === 0 && isPlusLevel(outer, o, oEnd) && endsWithHashAfter(outer, oEnd);
    }
    if (!isPlusLevel(outer, o, oEnd)) {
      if (isPlusLevel(inner, n, nEnd) || !sameLevel(outer, o, oEnd, inner, n, nEnd)) return false;
    }
    const outerDone = oEnd === outer.length;
    if (nEnd === inner.length) {
      // Inner is used up: outer must end too, or end in a '#' that matches zero more levels.
      return outerDone || endsWithHashAfter(outer, oEnd);
    }
    if (outerDone) return false; // inner matches longer topics than outer does
    o = oEnd + 1;
    n = nEnd + 1;
  }
}

/** True iff some topic is matched by both filters (a DENY rule then touches the request). */
export function filtersOverlap(a: string, b: string): boolean {
  if (startsWithWildcard(a) && reachesDollarTopics(b)) return false;
  if (startsWithWildcard(b) && reachesDollarTopics(a)) return false;
  let x = 0;
  let y = 0;
  for (;;) {
    // '#' accepts any remaining levels, and any filter's remaining levels can be satisfied.
    if (a.charCodeAt(x) === CHAR_HASH || b.charCodeAt(y) === CHAR_HASH) return true;
    const xEnd = levelEnd(a, x);
    const yEnd = levelEnd(b, y);
    if (!isPlusLevel(a, x, xEnd) && !isPlusLevel(b, y, yEnd)) {
      if (!sameLevel(a, x, xEnd, b, y, yEnd)) return false;
    }
    const aDone = xEnd === a.length;
    const bDone = yEnd === b.length;
    // A filter that ran out matches no more levels; the other must end here or in "/#".
    if (aDone || bDone) {
      if (aDone && bDone) return true;
      return aDone ? endsWithHashAfter(b, yEnd) : endsWithHashAfter(a, xEnd);
    }
    x = xEnd + 1;
    y = yEnd + 1;
  }
}
