import { ReasonCode } from "../../../protocol/mqtt/constants.ts";
import type { AuthPacket } from "../../../protocol/mqtt/packets.ts";
import { ConnectionState, type MqttConnection } from "../connection.ts";
import { authContext, runAuthStep } from "./connect.ts";

/** AUTH: continues an enhanced authentication exchange or starts re-authentication [MQTT-4.12]. */
export function handleAuth(conn: MqttConnection, packet: AuthPacket): void {
  const method = packet.properties?.authenticationMethod;
  if (conn.authMethod === undefined || method !== conn.authMethod) {
    // [MQTT-3.15.2-1] AUTH only within the method chosen at CONNECT.
    conn.protocolError(ReasonCode.PROTOCOL_ERROR, "AUTH without the CONNECT authentication method");
    return;
  }
  const authenticator = conn.broker.authenticators.get(method);
  if (authenticator === undefined) {
    conn.protocolError(ReasonCode.BAD_AUTHENTICATION_METHOD, "authentication method gone");
    return;
  }
  const data = packet.properties?.authenticationData;
  const context = authContext(conn);
  const reauthenticate =
    packet.reasonCode === ReasonCode.REAUTHENTICATE && conn.state === ConnectionState.CONNECTED;
  if (reauthenticate && !conn.authAwaitingClient) {
    runAuthStep(conn, authenticator.start(context, data));
    return;
  }
  // A continue answers our AUTH 0x18, once: a stray or replayed one is not a step.
  if (packet.reasonCode === ReasonCode.CONTINUE_AUTHENTICATION && conn.authAwaitingClient) {
    conn.authAwaitingClient = false;
    runAuthStep(conn, authenticator.continue(context, data, conn.authState));
    return;
  }
  conn.protocolError(
    ReasonCode.PROTOCOL_ERROR,
    `unexpected AUTH reason 0x${packet.reasonCode.toString(16)}`,
  );
}
