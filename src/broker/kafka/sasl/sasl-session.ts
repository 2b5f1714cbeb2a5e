/**
 * One Kafka connection's SASL state (KIP-152: SaslHandshake v1, then SaslAuthenticate
 * requests carrying the mechanism's tokens; or SaslHandshake v0, then the tokens as raw frames),
 * without sockets or timers: the handlers ask it, the connection asks `mayServe` before every
 * other request and `expectsRawToken` before decoding a frame.
 *
 * A failed step ends the session: the handler answers with the error and the connection is
 * closed after that answer, as Kafka does.
 */
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { ScramMechanism, ScramServerExchange } from "../../../security/scram.ts";
import type { KafkaSaslMechanism } from "./mechanisms.ts";
import { parsePlainToken } from "./plain.ts";

/** Who is authenticating, as the connection knows them. */
export interface ClientIdentity {
  readonly clientId: string;
  readonly ip: string;
}

/** `busy`: the check could not run now (too many at once), which says nothing of the password. */
export type CheckResult =
  | { readonly ok: true; readonly superuser?: boolean }
  | { readonly ok: false; readonly reason: string; readonly busy?: boolean };

/** What the node offers and checks; one per listener (sasl/authentication.ts). */
export interface KafkaAuthenticator {
  readonly mechanisms: readonly KafkaSaslMechanism[];
  readonly allowAnonymous: boolean;
  checkPlain(username: string, password: string, who: ClientIdentity): Promise<CheckResult>;
  scramExchange(mechanism: ScramMechanism): ScramServerExchange;
  /** After a SCRAM proof, and when a client changes its client.id: bans still apply. */
  admit(username: string | undefined, who: ClientIdentity): CheckResult;
  /** Every SaslAuthenticate exchange that ends, for the metrics. */
  recordOutcome(succeeded: boolean): void;
  /** Whether a user proven by SCRAM is a superuser (PLAIN's check says so itself). */
  isSuperuser(username: string): boolean;
}

export interface StepResult {
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly authBytes: Buffer;
  /** The connection must close once this answer is written. */
  readonly close: boolean;
  /**
   * Close without answering: the password could not be checked now. Clients take a lost
   * connection as retriable, an authentication error as final.
   */
  readonly busy?: boolean;
  /** Set when this step completed the authentication. */
  readonly principal?: string;
  /** For the log line of a refusal: who tried, and why (the client is told less). */
  readonly username?: string;
  readonly logReason?: string;
}

/** Kafka's wording, so client logs read the same as with a Kafka broker. */
export const PLAIN_FAILED = "Authentication failed: Invalid username or password";

const EMPTY = Buffer.alloc(0);

type State =
  | { readonly kind: "start" }
  | { readonly kind: "chosen"; readonly mechanism: KafkaSaslMechanism }
  | { readonly kind: "scram"; readonly exchange: ScramServerExchange }
  | { readonly kind: "done" };

export class SaslSession {
  readonly #authenticator: KafkaAuthenticator;
  #state: State = { kind: "start" };
  #principal: string | null;
  #mechanism: KafkaSaslMechanism | null = null;
  #superuser = false;
  /** SaslHandshake v0 chose the mechanism: its tokens come as raw frames, not requests. */
  #rawTokens = false;

  /** `principal`: already known from the transport (a verified client certificate). */
  constructor(authenticator: KafkaAuthenticator, principal: string | null = null) {
    this.#authenticator = authenticator;
    this.#principal = principal;
  }

  /** The authenticated user name, or null (anonymous, or not yet). */
  get principal(): string | null {
    return this.#principal;
  }

  /**
   * Whether requests other than ApiVersions and the SASL ones may be served: never while an
   * exchange is under way (as Kafka, even where anonymous clients or certificates are welcome).
   */
  get mayServe(): boolean {
    const kind = this.#state.kind;
    if (kind === "chosen" || kind === "scram") return false;
    return this.#principal !== null || this.#authenticator.allowAnonymous;
  }

  /** Whether the next frame is a raw token of the exchange (after SaslHandshake v0). */
  get expectsRawToken(): boolean {
    const kind = this.#state.kind;
    return this.#rawTokens && (kind === "chosen" || kind === "scram");
  }

  /** Whether the authenticated user passes every authorization check. */
  get superuser(): boolean {
    return this.#superuser;
  }

  /** The mechanisms this listener offers; none: it authenticates no one by SASL. */
  get offeredMechanisms(): readonly KafkaSaslMechanism[] {
    return this.#authenticator.mechanisms;
  }

  /** The mechanism SaslHandshake chose, if any. */
  get mechanism(): KafkaSaslMechanism | null {
    return this.#mechanism;
  }

  /** `rawTokens`: SaslHandshake v0, after which the tokens come as raw frames. */
  handshake(
    mechanism: string,
    rawTokens = false,
  ): { errorCode: number; mechanisms: string[]; close: boolean } {
    const mechanisms = [...this.#authenticator.mechanisms];
    // A verified certificate does not preclude SASL: on Kafka's SASL_SSL listeners the SASL user
    // is the principal, and clients configured so send a client certificate and SASL both.
    if (this.#state.kind !== "start") {
      return { errorCode: KafkaError.ILLEGAL_SASL_STATE, mechanisms, close: true };
    }
    const offered = this.#authenticator.mechanisms.find((name) => name === mechanism);
    if (offered === undefined) {
      this.#state = { kind: "done" };
      return { errorCode: KafkaError.UNSUPPORTED_SASL_MECHANISM, mechanisms, close: true };
    }
    this.#state = { kind: "chosen", mechanism: offered };
    this.#mechanism = offered;
    this.#rawTokens = rawTokens;
    return { errorCode: KafkaError.NONE, mechanisms, close: false };
  }

  async authenticate(token: Buffer, who: ClientIdentity): Promise<StepResult> {
    const state = this.#state;
    if (state.kind === "start" || state.kind === "done") {
      this.#state = { kind: "done" };
      const message = `SaslAuthenticate ${state.kind === "start" ? "before SaslHandshake" : "after the exchange ended"}`;
      return failure(KafkaError.ILLEGAL_SASL_STATE, message);
    }
    if (state.kind === "scram") return this.#scramFinal(state.exchange, token, who);
    if (state.mechanism === "PLAIN") return this.#plain(token, who);
    const exchange = this.#authenticator.scramExchange(state.mechanism);
    const first = exchange.clientFirst(token);
    if (!first.ok) return this.#failed(first.reason);
    this.#state = { kind: "scram", exchange };
    return { errorCode: 0, errorMessage: null, authBytes: first.serverFirst, close: false };
  }

  async #plain(token: Buffer, who: ClientIdentity): Promise<StepResult> {
    const parsed = parsePlainToken(token);
    if (!parsed.ok) return this.#failed(parsed.reason);
    const { username, password } = parsed;
    const check = await this.#authenticator.checkPlain(username, password, who);
    if (!check.ok && check.busy === true) {
      this.#state = { kind: "done" };
      return { ...failure(KafkaError.NONE, check.reason), username, busy: true };
    }
    if (!check.ok) return { ...this.#failed(PLAIN_FAILED), username, logReason: check.reason };
    return this.#succeeded(username, EMPTY, check.superuser === true);
  }

  #scramFinal(exchange: ScramServerExchange, token: Buffer, who: ClientIdentity): StepResult {
    const final = exchange.clientFinal(token);
    if (!final.ok) return this.#failed(final.reason);
    const admitted = this.#authenticator.admit(final.username, who);
    if (!admitted.ok) return { ...this.#failed(admitted.reason), username: final.username };
    const superuser = this.#authenticator.isSuperuser(final.username);
    return this.#succeeded(final.username, final.serverFinal, superuser);
  }

  #succeeded(username: string, authBytes: Buffer, superuser: boolean): StepResult {
    this.#authenticator.recordOutcome(true);
    this.#state = { kind: "done" };
    this.#principal = username;
    this.#superuser = superuser;
    return { errorCode: 0, errorMessage: null, authBytes, close: false, principal: username };
  }

  #failed(reason: string): StepResult {
    this.#authenticator.recordOutcome(false);
    this.#state = { kind: "done" };
    return failure(KafkaError.SASL_AUTHENTICATION_FAILED, reason);
  }
}

function failure(errorCode: number, errorMessage: string): StepResult {
  return { errorCode, errorMessage, authBytes: EMPTY, close: true };
}
