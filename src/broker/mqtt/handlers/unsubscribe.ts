import { ReasonCode } from "../../../protocol/mqtt/constants.ts";
import type { UnsubscribePacket } from "../../../protocol/mqtt/packets.ts";
import type { MqttConnection } from "../connection.ts";
import type { Session } from "../session.ts";
import { parseSharedFilter, validateTopicFilter } from "../topic.ts";

export function handleUnsubscribe(conn: MqttConnection, packet: UnsubscribePacket): void {
  const session = conn.session as Session;
  const reasonCodes: number[] = [];
  for (const filter of packet.topicFilters) {
    const shared = parseSharedFilter(filter);
    if (shared === "invalid" || (shared === null && !validateTopicFilter(filter))) {
      reasonCodes.push(ReasonCode.TOPIC_FILTER_INVALID);
      continue;
    }
    const sub = session.subscriptions.get(filter);
    if (sub === undefined) {
      reasonCodes.push(ReasonCode.NO_SUBSCRIPTION_EXISTED);
      continue;
    }
    // [MQTT-3.10.4-1, -2] delete it and stop adding new messages for it.
    session.subscriptions.delete(filter);
    conn.broker.router.unsubscribe(session, sub);
    reasonCodes.push(ReasonCode.SUCCESS);
  }
  // [MQTT-3.10.4-4, -5] UNSUBACK always; v3 carries no reason codes.
  conn.sendPacket({
    type: "unsuback",
    packetId: packet.packetId,
    reasonCodes: conn.isV5 ? reasonCodes : [],
  });
}
