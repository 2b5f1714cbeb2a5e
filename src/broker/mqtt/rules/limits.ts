/**
 * Limits of topic rewrite and auto-subscribe rules, named once. Both lists are walked in
 * order (rewrite on every PUBLISH and SUBSCRIBE that a rule's action covers, auto-subscribe on
 * every CONNECT), so their length is bounded.
 */
import { assert } from "../../../errors.ts";

/** Rules from one config section ([mqtt_topic_rewrite] or [mqtt_auto_subscribe]). */
export const CONFIG_RULES_MAX = 1000;
/** Rules the admin API may add to one list; the config file's rules do not count. */
export const API_RULES_MAX = 1000;
/**
 * Longest regular expression of a rewrite rule, in UTF-16 code units. A short pattern can
 * still backtrack badly (the operator writing it is trusted); the bound keeps compiled
 * patterns and their error messages small.
 */
export const REWRITE_REGEX_CHARS_MAX = 1024;
/** `$1`..`$9`: a destination refers to at most nine capture groups. */
export const REWRITE_GROUP_REF_MAX = 9;

assert(API_RULES_MAX >= 1 && CONFIG_RULES_MAX >= 1, "rule lists can hold rules");
assert(REWRITE_GROUP_REF_MAX <= 9, "a group reference is one digit");
