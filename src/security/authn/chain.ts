/**
 * The authenticator chain: turns a CONNECT's credentials into one decision.
 *
 *  1. A verified client certificate is a credential of its own: allowed, not a superuser.
 *  2. No user name and no password: anonymous, allowed only when anonymous access is on.
 *  3. Otherwise the authenticators are asked in the configured order. The first "allow" or
 *     "deny" ends it; "ignore" (and an authenticator that throws) passes to the next. When all
 *     ignore, the credentials are refused, unless there is no authenticator at all and
 *     anonymous access is on: then nothing checks user names and the client is let in.
 *
 * A refusal carries the MQTT v5 reason code for the CONNACK: 0x86 (bad user name or password)
 * when credentials were given and not accepted, 0x87 (not authorized) for a refused anonymous
 * client. The integrator maps them to v3.1.1 return codes.
 */
import type { Config } from "../../config/schema.ts";
import { assert } from "../../errors.ts";
import type { Logger } from "../../log/logger.ts";
import { ReasonCode } from "../../protocol/mqtt/constants.ts";
import type { Authenticator, AuthenticatorName, AuthnResult, Credentials } from "../types.ts";

export type AuthDecision =
  | {
      readonly allowed: true;
      readonly superuser: boolean;
      readonly by: AuthenticatorName | "anonymous" | "certificate";
    }
  | { readonly allowed: false; readonly reasonCode: number; readonly reason: string };

export const ANONYMOUS_DISABLED_REASON = "anonymous access disabled";
export const NOT_ACCEPTED_REASON = "no authenticator accepted the credentials";

/** `allow_anonymous = "auto"` means: anonymous clients are welcome unless something checks. */
export function allowAnonymousOf(config: Config["mqtt_auth"]): boolean {
  if (config.allow_anonymous === "auto") return config.authenticators.length === 0;
  return config.allow_anonymous;
}

export class AuthenticatorChain {
  readonly #authenticators: readonly Authenticator[];
  readonly #allowAnonymous: boolean;
  readonly #logger: Logger;

  constructor(authenticators: readonly Authenticator[], allowAnonymous: boolean, logger: Logger) {
    const names = new Set(authenticators.map((a) => a.name));
    assert(names.size === authenticators.length, "each authenticator appears once in the chain");
    this.#authenticators = [...authenticators];
    this.#allowAnonymous = allowAnonymous;
    this.#logger = logger;
  }

  async authenticate(credentials: Credentials): Promise<AuthDecision> {
    if (credentials.certificateUsername !== undefined) {
      return { allowed: true, superuser: false, by: "certificate" };
    }
    if (credentials.username === undefined && credentials.password === undefined) {
      if (this.#allowAnonymous) return { allowed: true, superuser: false, by: "anonymous" };
      return {
        allowed: false,
        reasonCode: ReasonCode.NOT_AUTHORIZED,
        reason: ANONYMOUS_DISABLED_REASON,
      };
    }
    for (const authenticator of this.#authenticators) {
      const result = await this.#ask(authenticator, credentials);
      if (result === undefined || result.result === "ignore") continue;
      if (result.result === "allow") {
        return { allowed: true, superuser: result.superuser, by: authenticator.name };
      }
      assert(result.result === "deny", "an authenticator answers allow, deny or ignore");
      return {
        allowed: false,
        reasonCode: ReasonCode.BAD_USER_NAME_OR_PASSWORD,
        reason: result.reason,
      };
    }
    if (this.#authenticators.length === 0 && this.#allowAnonymous) {
      return { allowed: true, superuser: false, by: "anonymous" };
    }
    return {
      allowed: false,
      reasonCode: ReasonCode.BAD_USER_NAME_OR_PASSWORD,
      reason: NOT_ACCEPTED_REASON,
    };
  }

  /** The authenticator's answer; undefined (treated as "ignore") when it threw. */
  async #ask(
    authenticator: Authenticator,
    credentials: Credentials,
  ): Promise<AuthnResult | undefined> {
    try {
      return await authenticator.authenticate(credentials);
    } catch (err) {
      this.#logger.warn(
        { err, authenticator: authenticator.name, clientId: credentials.clientId },
        "authenticator failed; treated as ignore",
      );
      return undefined;
    }
  }
}
