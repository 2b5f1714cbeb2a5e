/**
 * `$delayed/{seconds}/{topic}` (as in EMQX): a PUBLISH to such a topic name is held for
 * `seconds` and then published to `topic`. Pure parsing, one pass over char codes.
 */
import { assert } from "../../../errors.ts";

export const DELAYED_PREFIX = "$delayed/";

/** A `$delayed/` topic name that breaks a rule (answered with v5 reason code 0x90). */
export const DELAYED_INVALID = "invalid";

export interface DelayedTopic {
  /** Whole seconds from 0 to the configured maximum. */
  readonly delayS: number;
  /** Where the message goes once due: a topic name without wildcards. */
  readonly topic: string;
}

const CHAR_0 = 0x30;
const CHAR_9 = 0x39;
const CHAR_NUL = 0x00;
const CHAR_HASH = 0x23;
const CHAR_PLUS = 0x2b;
const CHAR_SLASH = 0x2f;

/**
 * Splits a topic name. Returns null when it is not a delayed publish at all (the caller routes
 * it as usual) and DELAYED_INVALID when it starts with `$delayed/` but the delay is not a
 * decimal integer from 0 to `delaySMax` or the target topic is empty, holds a wildcard or is
 * itself a `$delayed/` topic.
 */
export function parseDelayedTopic(
  topic: string,
  delaySMax: number,
): DelayedTopic | typeof DELAYED_INVALID | null {
  assert(Number.isSafeInteger(delaySMax) && delaySMax >= 0, "delaySMax is a whole number");
  if (!topic.startsWith(DELAYED_PREFIX)) return null;
  const digitsStart = DELAYED_PREFIX.length;
  let delayS = 0;
  let i = digitsStart;
  for (; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === CHAR_SLASH) break;
    if (c < CHAR_0 || c > CHAR_9) return DELAYED_INVALID; // a sign, a space, a letter
    delayS = delayS * 10 + (c - CHAR_0);
    // Stops at once: an absurdly long number never grows beyond the limit.
    if (delayS > delaySMax) return DELAYED_INVALID;
  }
  if (i === digitsStart || i >= topic.length) return DELAYED_INVALID; // no digits / no topic
  const target = topic.slice(i + 1);
  if (!validTarget(target)) return DELAYED_INVALID;
  assert(delayS <= delaySMax, "delay within the limit");
  return { delayS, topic: target };
}

function validTarget(target: string): boolean {
  if (target.length === 0 || target.startsWith(DELAYED_PREFIX)) return false;
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === CHAR_PLUS || c === CHAR_HASH || c === CHAR_NUL) return false;
  }
  return true;
}
