import { ReasonCode } from "../../../protocol/mqtt/constants.ts";
import type { AckPacket } from "../../../protocol/mqtt/packets.ts";
import type { MqttConnection } from "../connection.ts";
import type { Session } from "../session.ts";

/** PUBACK from the client completes an outbound QoS 1 delivery [MQTT-4.3.2]. */
export function handlePuback(conn: MqttConnection, packet: AckPacket): void {
  const session = conn.session as Session;
  if (session.onPuback(packet.packetId) !== undefined) conn.pump();
}

/** PUBREC from the client: answer PUBREL [MQTT-4.3.3-4]; a v5 failure code ends the flow. */
export function handlePubrec(conn: MqttConnection, packet: AckPacket): void {
  const session = conn.session as Session;
  const outcome = session.onPubrec(packet.packetId, packet.reasonCode);
  if (outcome === "pubrel") {
    conn.sendPacket({ type: "pubrel", packetId: packet.packetId, reasonCode: 0 });
  } else if (outcome === "done") {
    conn.pump();
  } else {
    // Unknown id: a PUBREL still lets the client finish its state [MQTT-4.3.3].
    conn.sendPacket({
      type: "pubrel",
      packetId: packet.packetId,
      reasonCode: ReasonCode.PACKET_IDENTIFIER_NOT_FOUND,
    });
  }
}

/** PUBREL from the client releases an inbound QoS 2 packet id; answer PUBCOMP [MQTT-4.3.3-11]. */
export function handlePubrel(conn: MqttConnection, packet: AckPacket): void {
  const session = conn.session as Session;
  const known = session.inboundQos2.delete(packet.packetId);
  conn.sendPacket({
    type: "pubcomp",
    packetId: packet.packetId,
    reasonCode: known ? 0 : ReasonCode.PACKET_IDENTIFIER_NOT_FOUND,
  });
}

/** PUBCOMP from the client completes an outbound QoS 2 delivery. */
export function handlePubcomp(conn: MqttConnection, packet: AckPacket): void {
  const session = conn.session as Session;
  if (session.onPubcomp(packet.packetId)) conn.pump();
}
