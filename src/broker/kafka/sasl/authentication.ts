/**
 * The Kafka listener's side of the node's security: SASL/PLAIN credentials go through the same
 * authenticator chain as an MQTT CONNECT's user name and password ([mqtt_auth]), SCRAM checks
 * the built-in users' salted keys, and bans by user name, client id (Kafka's client.id) or IP
 * address refuse either. docs/kafka.md, "Authentication".
 */
import type { Config } from "../../../config/schema.ts";
import { SERVER_BUSY_REASON } from "../../../security/authn/built-in.ts";
import { allowAnonymousOf } from "../../../security/authn/chain.ts";
import { type ScramMechanism, ScramServerExchange } from "../../../security/scram.ts";
import type { Security } from "../../../security/security.ts";
import { kafkaAllowsAnonymous, offeredMechanisms } from "./mechanisms.ts";
import type { CheckResult, ClientIdentity, KafkaAuthenticator } from "./sasl-session.ts";

export class KafkaAuthentication implements KafkaAuthenticator {
  readonly mechanisms: KafkaAuthenticator["mechanisms"];
  readonly allowAnonymous: boolean;
  /** Counted for robustmq_kafka_authentications_total{result}. */
  succeeded = 0;
  failed = 0;
  readonly #security: Security;

  constructor(config: Config, security: Security) {
    const kafka = config.kafka;
    this.#security = security;
    this.mechanisms = offeredMechanisms(kafka.sasl_mechanisms, config.mqtt_auth.authenticators);
    this.allowAnonymous = kafkaAllowsAnonymous(
      kafka.allow_anonymous,
      allowAnonymousOf(config.mqtt_auth),
    );
  }

  async checkPlain(username: string, password: string, who: ClientIdentity): Promise<CheckResult> {
    const banned = this.admit(username, who);
    if (!banned.ok) return banned;
    const decision = await this.#security.authenticate({
      clientId: who.clientId,
      username,
      password: Buffer.from(password, "utf8"),
      ip: who.ip,
      certificateUsername: undefined,
    });
    if (!decision.allowed) {
      return { ok: false, reason: decision.reason, busy: decision.reason === SERVER_BUSY_REASON };
    }
    // Only when no authenticator is configured; PLAIN is then not offered (mechanisms.ts).
    if (decision.by === "anonymous") return { ok: false, reason: "no authenticator configured" };
    return { ok: true, superuser: decision.superuser };
  }

  scramExchange(mechanism: ScramMechanism): ScramServerExchange {
    const users = this.#security.users;
    return new ScramServerExchange(mechanism, (username) =>
      users.scramCredential(username, mechanism),
    );
  }

  admit(username: string | undefined, who: ClientIdentity): CheckResult {
    const ban = this.#security.banned({ clientId: who.clientId, username, ip: who.ip });
    if (ban === null) return { ok: true };
    return { ok: false, reason: `Authentication failed: banned (${ban.kind})` };
  }

  isSuperuser(username: string): boolean {
    return this.#security.users.get(username)?.superuser ?? false;
  }

  recordOutcome(succeeded: boolean): void {
    if (succeeded) this.succeeded++;
    else this.failed++;
  }
}
