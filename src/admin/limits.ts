/**
 * Limits of the admin HTTP API, named once. (Broker-wide limits live in src/config/limits.ts;
 * these concern only the admin surface.)
 */
import { assert } from "../errors.ts";

/** Largest request body accepted; no admin request needs more (413 beyond it). */
export const ADMIN_BODY_BYTES_MAX = 64 * 1024;
/** Items per page when the request gives no `limit`. */
export const PAGE_LIMIT_DEFAULT = 100;
/** Largest `limit` a list request may ask for. */
export const PAGE_LIMIT_MAX = 1000;
/** Bytes of a retained payload shown (base64) in a listing. */
export const PAYLOAD_PREVIEW_BYTES_MAX = 256;
/** Live login tokens kept; the oldest is dropped beyond it. */
export const TOKENS_MAX = 1024;
/** Password checks (scrypt, memory-hard) run at once; further logins get 429. */
export const LOGINS_IN_FLIGHT_MAX = 4;
/** Random bytes in a login token. */
export const TOKEN_BYTES = 32;
/** Longest client id, user name, filter or topic accepted in a query or path. */
export const QUERY_STRING_CHARS_MAX = 65_535;
/**
 * Longest path parameter the router takes, as sent (414 beyond): a name of
 * QUERY_STRING_CHARS_MAX characters percent-encoded, each up to 3 UTF-8 bytes of 3 characters.
 * The route's schema then checks the decoded length. (fastify's default, 100, refused client
 * ids, retained topics and Kafka topic names that MQTT and Kafka allow.)
 */
export const PATH_PARAM_CHARS_MAX = QUERY_STRING_CHARS_MAX * 3 * 3;
/** Longest ban the API sets with `duration_s` (100 years); 0 bans forever. */
export const BAN_DURATION_S_MAX = 100 * 365 * 86_400;
/** Longest ban reason accepted (the ban list refuses longer ones too). */
export const BAN_REASON_CHARS_MAX = 1024;
/** Longest built-in user password accepted in a request (MQTT's limit on a password). */
export const USER_PASSWORD_CHARS_MAX = 65_535;
/** Files of the built dashboard's assets/ directory served; more are ignored (Vite writes a few). */
export const DASHBOARD_ASSETS_COUNT_MAX = 256;
/** Least time between two listings of the dashboard's assets/ (a missing name triggers one). */
export const DASHBOARD_RESCAN_INTERVAL_MS = 1000;

assert(PAGE_LIMIT_DEFAULT <= PAGE_LIMIT_MAX, "default page within the maximum");
assert(Number.isSafeInteger(Date.now() + BAN_DURATION_S_MAX * 1000), "ban expiry is exact");
assert(TOKEN_BYTES >= 16, "tokens must not be guessable");
