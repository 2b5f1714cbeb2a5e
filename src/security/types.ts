/**
 * The words of the security layer, shared by authentication (authn/), authorization (acl/),
 * bans (banned/) and the broker that asks them. Everything here is data: no I/O.
 */

/** Who is connecting, as far as the CONNECT packet and the transport tell. */
export interface Credentials {
  readonly clientId: string;
  readonly username: string | undefined;
  readonly password: Buffer | undefined;
  /** The peer's IP address (the PROXY protocol's source address when one is in front). */
  readonly ip: string;
  /** The user name a verified client certificate proved (TLS with verify_client), if any. */
  readonly certificateUsername: string | undefined;
}

/**
 * One authenticator's answer. `ignore` passes the decision to the next one in the chain
 * (user unknown to it, or a credential not in its format); `deny` ends the chain.
 */
export type AuthnResult =
  | { readonly result: "allow"; readonly superuser: boolean }
  | { readonly result: "deny"; readonly reason: string }
  | { readonly result: "ignore"; readonly reason?: string };

export const AUTHENTICATOR_NAMES = ["built_in", "jwt", "http"] as const;
export type AuthenticatorName = (typeof AUTHENTICATOR_NAMES)[number];

export interface Authenticator {
  readonly name: AuthenticatorName;
  authenticate(credentials: Credentials): Promise<AuthnResult>;
}

/** Who is acting, as ACL rules and bans see a connected client. */
export interface Principal {
  readonly clientId: string;
  readonly username: string | undefined;
  readonly ip: string;
  /** Superusers pass every ACL check (never the `$SYS` publish rule). */
  readonly superuser: boolean;
}

export const ACL_ACTIONS = ["publish", "subscribe", "all"] as const;
export type AclAction = (typeof ACL_ACTIONS)[number];
export const ACL_PERMISSIONS = ["allow", "deny"] as const;
export type AclPermission = (typeof ACL_PERMISSIONS)[number];

/**
 * An ACL rule. Absent `username`, `client_id` and `ip` match anyone; `topic` is an MQTT topic
 * filter that may hold `%u` (user name) and `%c` (client id) as whole levels or within one.
 */
export interface AclRuleSpec {
  readonly permission: AclPermission;
  readonly action: AclAction;
  readonly topic: string;
  readonly username?: string;
  readonly client_id?: string;
  /** An IP address or a CIDR block ("10.0.0.0/8", "::1/128"). */
  readonly ip?: string;
}

/** A rule as stored: the spec plus its identity and where it came from. */
export interface AclRule extends AclRuleSpec {
  readonly id: string;
  /** `config` rules come from [mqtt_acl] rules and are read-only at run time. */
  readonly source: "config" | "api";
}

export const BAN_KINDS = ["client_id", "username", "ip"] as const;
export type BanKind = (typeof BAN_KINDS)[number];

/** A ban: a client id, a user name, or an IP address / CIDR block, until a time (0 = forever). */
export interface Ban {
  readonly kind: BanKind;
  readonly value: string;
  readonly reason: string;
  readonly createdAtMs: number;
  /** Epoch milliseconds when the ban lapses; 0 = never. */
  readonly untilMs: number;
}
