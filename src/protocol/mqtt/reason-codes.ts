/**
 * Which MQTT 5 reason codes each packet type may carry (spec section 2.4 and each packet's
 * reason code table), plus the v3.1.1 CONNACK and SUBACK return codes. A code outside its
 * packet's table parses fine but is not allowed by the protocol, so the parser reports it
 * as a protocol error (as Mosquitto does); the encoder asserts against the same tables.
 */

function table(codes: readonly number[]): Uint8Array {
  const allowed = new Uint8Array(256);
  for (const code of codes) allowed[code] = 1;
  return allowed;
}

export const CONNACK_REASON_CODES = table([
  0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97,
  0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9f,
]);

/** PUBACK and PUBREC. */
export const PUBACK_REASON_CODES = table([0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]);

/** PUBREL and PUBCOMP. */
export const PUBREL_REASON_CODES = table([0x00, 0x92]);

export const SUBACK_REASON_CODES = table([
  0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2,
]);

export const UNSUBACK_REASON_CODES = table([0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91]);

export const DISCONNECT_REASON_CODES = table([
  0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95,
  0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2,
]);

export const AUTH_REASON_CODES = table([0x00, 0x18, 0x19]);

/** [MQTT-3.9.3-2] (v3.1.1) SUBACK return codes other than 0, 1, 2 and 0x80 are reserved. */
export const SUBACK_RETURN_CODES_V3 = table([0x00, 0x01, 0x02, 0x80]);

/** v3.1.1 CONNACK return codes 0-5; 6-255 are reserved. */
export const CONNACK_RETURN_CODE_V3_MAX = 5;

/** The reason code table for an ack packet type. */
export function ackReasonCodes(type: "puback" | "pubrec" | "pubrel" | "pubcomp"): Uint8Array {
  return type === "puback" || type === "pubrec" ? PUBACK_REASON_CODES : PUBREL_REASON_CODES;
}
