/**
 * The reason codes a broker answered, read through mqtt.js: it resolves a successful
 * acknowledgement and rejects one holding a failure code, so both are turned into the code.
 */
import type { IClientPublishOptions, MqttClient } from "mqtt";

/**
 * Publishes (QoS 1 unless `options` says otherwise) and returns the PUBACK/PUBCOMP reason code
 * (0 when it carries none).
 */
export async function ackCode(
  client: MqttClient,
  topic: string,
  payload = "x",
  options: IClientPublishOptions = {},
): Promise<number> {
  try {
    const ack = (await client.publishAsync(topic, payload, { qos: 1, ...options })) as
      | { reasonCode?: number }
      | undefined;
    return ack?.reasonCode ?? 0;
  } catch (err) {
    // mqtt.js rejects an acknowledgement holding a failure code with the code on the error.
    const code = (err as { code?: number }).code;
    if (code === undefined) throw err;
    return code;
  }
}

/** Subscribes and returns the granted codes (v5 reason codes / v3 return codes). */
export async function subscribeCodes(
  client: MqttClient,
  filter: string,
  qos: 0 | 1 = 1,
): Promise<number[]> {
  try {
    const granted = await client.subscribeAsync(filter, { qos });
    return granted.map((g) => g.qos);
  } catch (err) {
    // mqtt.js rejects a SUBACK holding a failure code, and carries the packet.
    const packet = (err as { packet?: { granted?: number[]; reasonCodes?: number[] } }).packet;
    const codes = packet?.granted ?? packet?.reasonCodes;
    if (codes === undefined) throw err;
    return codes;
  }
}
