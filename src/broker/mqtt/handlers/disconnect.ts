import { ReasonCode } from "../../../protocol/mqtt/constants.ts";
import type { DisconnectPacket } from "../../../protocol/mqtt/packets.ts";
import type { MqttConnection } from "../connection.ts";
import type { Session } from "../session.ts";

/**
 * DISCONNECT from the client: only a normal close (0x00, and every v3 DISCONNECT) drops the will
 * [MQTT-3.14.4-3]; 0x04 and the error codes keep it [MQTT-3.1.2-8].
 */
export function handleDisconnect(conn: MqttConnection, packet: DisconnectPacket): void {
  const session = conn.session as Session;
  const requested = packet.properties?.sessionExpiryInterval;
  if (requested !== undefined) {
    if (conn.requestedExpiryS === 0 && requested > 0) {
      // A session opened with expiry 0 cannot be extended at DISCONNECT (MQTT 5 3.14.2.2.2).
      conn.protocolError(ReasonCode.PROTOCOL_ERROR, "session expiry set on DISCONNECT after 0");
      return;
    }
    const max = conn.broker.config.mqtt_protocol_config.max_session_expiry_interval;
    session.expiryIntervalS = Math.min(requested, max);
  }
  const withWill = packet.reasonCode !== ReasonCode.SUCCESS;
  if (!withWill) conn.disconnectedCleanly = true;
  conn.clientDisconnected = true;
  const why =
    packet.reasonCode === ReasonCode.SUCCESS
      ? "client disconnected"
      : packet.reasonCode === ReasonCode.DISCONNECT_WITH_WILL
        ? "client disconnected with will"
        : `client disconnected with reason 0x${packet.reasonCode.toString(16)}`;
  conn.close(why, withWill);
}
