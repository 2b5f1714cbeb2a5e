import { ReasonCode } from "../../../protocol/mqtt/constants.ts";
import type { Packet } from "../../../protocol/mqtt/packets.ts";
import { ConnectionState, type MqttConnection } from "../connection.ts";
import { handlePuback, handlePubcomp, handlePubrec, handlePubrel } from "./acks.ts";
import { handleAuth } from "./auth.ts";
import { handleConnect } from "./connect.ts";
import { handleDisconnect } from "./disconnect.ts";
import { handlePublish } from "./publish.ts";
import { handleSubscribe } from "./subscribe.ts";
import { handleUnsubscribe } from "./unsubscribe.ts";

/** The one dispatcher: checks the connection state, then hands the packet to its handler. */
export function dispatch(conn: MqttConnection, packet: Packet): void {
  if (conn.state === ConnectionState.AWAIT_CONNECT) {
    if (packet.type !== "connect") {
      // [MQTT-3.1.0-1] the first packet must be CONNECT.
      conn.broker.logger.info(
        { remote: conn.remoteAddress, type: packet.type },
        "first packet not CONNECT",
      );
      conn.broker.stats.protocolErrors++;
      conn.close("first packet not CONNECT", false);
      return;
    }
    handleConnect(conn, packet);
    return;
  }
  if (conn.state === ConnectionState.AUTHENTICATING) {
    if (packet.type === "auth") handleAuth(conn, packet);
    else if (packet.type === "disconnect") conn.close("client disconnected during auth", false);
    // [MQTT-3.1.2-30] only AUTH or DISCONNECT until the CONNACK.
    else conn.protocolError(ReasonCode.PROTOCOL_ERROR, `${packet.type} during authentication`);
    return;
  }
  if (conn.state !== ConnectionState.CONNECTED) return;
  switch (packet.type) {
    case "publish":
      handlePublish(conn, packet);
      return;
    case "puback":
      handlePuback(conn, packet);
      return;
    case "pubrec":
      handlePubrec(conn, packet);
      return;
    case "pubrel":
      handlePubrel(conn, packet);
      return;
    case "pubcomp":
      handlePubcomp(conn, packet);
      return;
    case "subscribe":
      handleSubscribe(conn, packet);
      return;
    case "unsubscribe":
      handleUnsubscribe(conn, packet);
      return;
    case "pingreq":
      conn.sendPacket({ type: "pingresp" }); // [MQTT-3.12.4-1]
      return;
    case "disconnect":
      handleDisconnect(conn, packet);
      return;
    case "auth":
      handleAuth(conn, packet);
      return;
    case "connect":
      conn.protocolError(ReasonCode.PROTOCOL_ERROR, "second CONNECT"); // [MQTT-3.1.0-2]
      return;
    default:
      // CONNACK, SUBACK, UNSUBACK, PINGRESP only travel from server to client.
      conn.protocolError(ReasonCode.PROTOCOL_ERROR, `${packet.type} sent by a client`);
  }
}
