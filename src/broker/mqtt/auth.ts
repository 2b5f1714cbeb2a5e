/**
 * Enhanced authentication (MQTT 5 section 4.12): a pluggable challenge/response exchange
 * carried by CONNECT, AUTH and CONNACK. An authenticator is registered under its method name.
 */
export interface AuthContext {
  readonly clientId: string;
  readonly username: string | undefined;
  readonly remoteAddress: string;
}

/**
 * One step of an exchange: `continue` sends AUTH 0x18 with `data` and waits for the client's
 * next AUTH; `success` completes (CONNACK 0x00 or AUTH 0x00 on re-authentication); `fail`
 * refuses with `reasonCode` (default 0x87 Not authorized).
 */
export type AuthStep =
  | { readonly result: "continue"; readonly data?: Buffer; readonly state?: unknown }
  | { readonly result: "success"; readonly data?: Buffer }
  | { readonly result: "fail"; readonly reasonCode?: number };

export interface EnhancedAuthenticator {
  readonly method: string;
  /** First step, from CONNECT (or from AUTH 0x19 when re-authenticating). */
  start(context: AuthContext, data: Buffer | undefined): AuthStep | Promise<AuthStep>;
  /** Each later step, from AUTH 0x18; `state` is what the previous step returned. */
  continue(
    context: AuthContext,
    data: Buffer | undefined,
    state: unknown,
  ): AuthStep | Promise<AuthStep>;
}
