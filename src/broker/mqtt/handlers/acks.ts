import { ReasonCode } from "../../../protocol/mqtt/constants.ts";
import type { AckPacket } from "../../../protocol/mqtt/packets.ts";
import type { MqttConnection } from "../connection.ts";
import type { Session } from "../session.ts";

/** PUBACK from the client completes an outbound QoS 1 delivery [MQTT-4.3.2]. */
export function handlePuback(conn: MqttConnection, packet: AckPacket): void {
  const session = conn.session as Session;
  const delivery = session.onPuback(packet.packetId);
  if (delivery !== undefined) {
    conn.settled(packet.packetId);
    conn.broker.slowSubs?.completed(conn.clientId, conn.openedAtMs, delivery.message);
    conn.broker.persistence?.touch(session);
    conn.pump();
  }
}

/** PUBREC from the client: answer PUBREL [MQTT-4.3.3-4]; a v5 failure code ends the flow. */
export function handlePubrec(conn: MqttConnection, packet: AckPacket): void {
  const session = conn.session as Session;
  const packetId = packet.packetId;
  const outcome = session.onPubrec(packetId, packet.reasonCode);
  // A PUBREC for a PUBLISH not yet resent on this connection: the client has it already.
  if (outcome !== "unknown") conn.settled(packetId);
  if (outcome === "pubrel") {
    // Once PUBREL is sent the receiver may hand the message on: after a crash only PUBREL,
    // never the PUBLISH, may be resent, so the log must know first.
    const persistence = conn.broker.persistence;
    const recorded =
      persistence !== null && session.persistedExpiryS > 0
        ? persistence.record({ t: "received", c: session.clientId, p: packetId })
        : null;
    conn.answerAfter(
      recorded,
      () => conn.sendAck("pubrel", packetId, 0),
      () => conn.close("delivery state not stored", false), // resent PUBREC after reconnect
    );
  } else if (outcome === "done") {
    conn.broker.persistence?.touch(session);
    conn.pump();
  } else {
    // Unknown id: a PUBREL still lets the client finish its state [MQTT-4.3.3], in the order
    // of the PUBRECs [MQTT-4.6.0-3].
    const send = () => conn.sendAck("pubrel", packetId, ReasonCode.PACKET_IDENTIFIER_NOT_FOUND);
    conn.answerAfter(null, send, send);
  }
}

/** PUBREL from the client releases an inbound QoS 2 packet id; answer PUBCOMP [MQTT-4.3.3-11]. */
export function handlePubrel(conn: MqttConnection, packet: AckPacket): void {
  const session = conn.session as Session;
  const packetId = packet.packetId;
  const known = session.inboundQos2.delete(packetId);
  const persistence = conn.broker.persistence;
  // After PUBCOMP the client may reuse the id for a new message: the log must free it first.
  const recorded =
    known && persistence !== null && session.persistedExpiryS > 0
      ? persistence.record({ t: "released", c: session.clientId, p: packetId })
      : null;
  if (recorded !== null) session.lastStored = recorded;
  conn.answerAfter(
    recorded,
    () => conn.sendAck("pubcomp", packetId, known ? 0 : ReasonCode.PACKET_IDENTIFIER_NOT_FOUND),
    () => {
      session.inboundQos2.add(packetId); // as the log still has it; the client resends PUBREL
      conn.close("delivery state not stored", false);
    },
  );
}

/** PUBCOMP from the client completes an outbound QoS 2 delivery. */
export function handlePubcomp(conn: MqttConnection, packet: AckPacket): void {
  const session = conn.session as Session;
  const slowSubs = conn.broker.slowSubs;
  // Read before onPubcomp() takes the delivery out of the window.
  const message = slowSubs === null ? undefined : session.inflight.get(packet.packetId)?.message;
  if (session.onPubcomp(packet.packetId)) {
    if (message !== undefined) slowSubs?.completed(conn.clientId, conn.openedAtMs, message);
    conn.broker.persistence?.touch(session);
    conn.pump();
  }
}
