/**
 * The filters SUBSCRIBE and UNSUBSCRIBE name, turned into the filter a session keys its
 * subscription by, as EMQX reads them:
 * - `$queue/<filter>` is the shared subscription `$share/$queue/<filter>`;
 * - `$exclusive/<filter>` is `<filter>`, which only one client may hold at a time (see
 *   exclusive.ts; the caller claims it);
 * - topic rewrite rules (rules/topic-rewrite.ts) apply to the filter part, after any
 *   `$share/<group>/`, `$queue/` or `$exclusive/` prefix, which is kept.
 * With either form turned off ([mqtt_subscriptions]) it is answered 0x8F, as EMQX answers a
 * `$exclusive/` subscription while exclusive subscriptions are off.
 */
import { ReasonCode } from "../../protocol/mqtt/constants.ts";
import type { MqttConnection } from "./connection.ts";
import { parseSharedFilter, validateTopicFilter } from "./topic.ts";

export const SHARE_PREFIX = "$share/";
export const QUEUE_PREFIX = "$queue/";
export const EXCLUSIVE_PREFIX = "$exclusive/";
/** The share group `$queue/` subscriptions join. */
export const QUEUE_GROUP = "$queue";

const CHAR_DOLLAR = 0x24; // '$'

/** True when `filter` starts with a prefix that changes what a subscription means. */
export function hasSpecialPrefix(filter: string): boolean {
  if (filter.charCodeAt(0) !== CHAR_DOLLAR) return false;
  return (
    filter.startsWith(SHARE_PREFIX) ||
    filter.startsWith(QUEUE_PREFIX) ||
    filter.startsWith(EXCLUSIVE_PREFIX)
  );
}

/** True when a subscription to `filter` joins a share group (`$share/...` or `$queue/...`). */
export function isSharedForm(filter: string): boolean {
  return filter.startsWith(SHARE_PREFIX) || filter.startsWith(QUEUE_PREFIX);
}

export function isExclusiveFilter(filter: string): boolean {
  return filter.charCodeAt(0) === CHAR_DOLLAR && filter.startsWith(EXCLUSIVE_PREFIX);
}

/** A filter written with a special prefix, split; null for a plain filter. */
export interface PrefixedFilter {
  /** What the session key starts with: `$share/<group>/`, `$share/$queue/` or "". */
  readonly keyPrefix: string;
  /** The filter part, which rewrite rules and the ACL see. */
  readonly inner: string;
  readonly kind: "share" | "queue" | "exclusive";
}

/**
 * Splits a filter's special prefix off. An invalid `$share/` filter is returned as a plain
 * one (null), so the caller's own check answers it.
 */
export function splitPrefix(filter: string): PrefixedFilter | null {
  if (filter.charCodeAt(0) !== CHAR_DOLLAR) return null;
  if (filter.startsWith(QUEUE_PREFIX)) {
    const inner = filter.slice(QUEUE_PREFIX.length);
    return { keyPrefix: `${SHARE_PREFIX}${QUEUE_GROUP}/`, inner, kind: "queue" };
  }
  if (filter.startsWith(EXCLUSIVE_PREFIX)) {
    return { keyPrefix: "", inner: filter.slice(EXCLUSIVE_PREFIX.length), kind: "exclusive" };
  }
  const shared = parseSharedFilter(filter);
  if (shared === null || shared === "invalid") return null;
  return { keyPrefix: `${SHARE_PREFIX}${shared.group}/`, inner: shared.filter, kind: "share" };
}

/**
 * True when a filter, written the way SUBSCRIBE may write it, is well formed: a valid plain
 * or shared filter, or `$queue/` / `$exclusive/` before a valid plain filter.
 */
export function validSubscribeFilter(filter: string): boolean {
  const split = splitPrefix(filter);
  if (split === null) {
    return parseSharedFilter(filter) === null && validateTopicFilter(filter);
  }
  if (split.kind === "share") return true; // parseSharedFilter accepted it
  return validateTopicFilter(split.inner) && !hasSpecialPrefix(split.inner);
}

/**
 * The filter the session keys the subscription by, or the reason code refusing it. Malformed
 * filters come back for the caller's own checks to refuse (0x8F) as before.
 */
export function resolveFilter(conn: MqttConnection, requested: string): string | number {
  const rewrite = conn.broker.topicRewrite;
  const rewriting = rewrite !== null && rewrite.subscribeRules.length > 0;
  const split = splitPrefix(requested);
  if (split === null) return rewriting ? rewrite.rewriteFilter(requested) : requested;
  const switches = conn.broker.config.mqtt_subscriptions;
  if (split.kind === "queue" && !switches.queue_enable) return ReasonCode.TOPIC_FILTER_INVALID;
  if (split.kind === "exclusive") {
    if (!switches.exclusive_enable) return ReasonCode.TOPIC_FILTER_INVALID;
    // "$exclusive/$share/g/t" would claim a filter no client can hold alone.
    if (hasSpecialPrefix(split.inner)) return ReasonCode.TOPIC_FILTER_INVALID;
  }
  let inner = split.inner;
  if (rewriting && validateTopicFilter(inner)) inner = rewrite.rewriteFilter(inner);
  return split.keyPrefix + inner;
}
