/**
 * Why CONNECTs were refused by authentication, in a few fixed categories (bounded metric
 * labels). Each refusal bumps the total (`authFailures`) and exactly one reason, so the reasons
 * sum to the total.
 */
import { ReasonCode } from "../../protocol/mqtt/constants.ts";
import type { BrokerStats } from "./stats.ts";

export const AUTH_FAILURE_REASONS = [
  /** An authenticator denied the user name and password (or nobody accepted them). */
  "bad_credentials",
  /** No credentials, and anonymous clients are not allowed. */
  "anonymous",
  /** MQTT 5 enhanced authentication with a method the broker does not have. */
  "bad_method",
  /** The enhanced authentication exchange failed. */
  "enhanced_auth",
  /** The authenticators threw: refused without an answer. */
  "error",
] as const;
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];

type ReasonStat =
  | "authFailuresBadCredentials"
  | "authFailuresAnonymous"
  | "authFailuresBadMethod"
  | "authFailuresEnhancedAuth"
  | "authFailuresError";

/** The BrokerStats field of each reason, indexed like AUTH_FAILURE_REASONS. */
export const AUTH_FAILURE_STATS: Readonly<Record<AuthFailureReason, ReasonStat>> = {
  bad_credentials: "authFailuresBadCredentials",
  anonymous: "authFailuresAnonymous",
  bad_method: "authFailuresBadMethod",
  enhanced_auth: "authFailuresEnhancedAuth",
  error: "authFailuresError",
};

export function countAuthFailure(stats: BrokerStats, reason: AuthFailureReason): void {
  stats.authFailures++;
  stats[AUTH_FAILURE_STATS[reason]]++;
}

/** The reason of a password check's refusal: its CONNACK reason code tells them apart. */
export function passwordFailureReason(reasonCode: number): AuthFailureReason {
  return reasonCode === ReasonCode.NOT_AUTHORIZED ? "anonymous" : "bad_credentials";
}
