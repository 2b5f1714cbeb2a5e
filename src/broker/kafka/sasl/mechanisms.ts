/**
 * The SASL mechanisms the Kafka listener can offer, and which of them a node can actually check:
 * PLAIN asks the node's authenticator chain ([mqtt_auth] authenticators), the SCRAM mechanisms
 * need the salted keys only built-in users have.
 */
import type { AuthenticatorName } from "../../../security/types.ts";

export const KAFKA_SASL_MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] as const;
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];

/** The configured mechanisms this node can check, in the configured order. */
export function offeredMechanisms(
  configured: readonly KafkaSaslMechanism[],
  authenticators: readonly AuthenticatorName[],
): KafkaSaslMechanism[] {
  return configured.filter((mechanism) =>
    mechanism === "PLAIN" ? authenticators.length > 0 : authenticators.includes("built_in"),
  );
}

/** `[kafka] allow_anonymous`, with "auto" following the MQTT listeners' anonymous access. */
export function kafkaAllowsAnonymous(
  setting: boolean | "auto",
  mqttAllowsAnonymous: boolean,
): boolean {
  return setting === "auto" ? mqttAllowsAnonymous : setting;
}
