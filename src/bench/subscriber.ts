/**
 * One subscribing client: subscribes to its filter, counts what arrives, measures the latency of
 * payloads that carry the bench header, and acknowledges as the protocol asks: PUBACK for QoS 1,
 * PUBREC then (on PUBREL) PUBCOMP for QoS 2. Acks of one read go out in one write.
 */
import type { Packet, QoS } from "../protocol/mqtt/index.ts";
import { type Client, ClientState, type PacketHandler } from "./client.ts";
import { recordMicros } from "./histogram.ts";
import type { WorkerStats } from "./stats.ts";
import { AckByte, payloadTimestampMicros, reasonText, subscribePacket } from "./wire.ts";

const SUBACK_FAILURE_MIN = 0x80;

export const SubscriptionState = {
  NONE: 0,
  WAITING: 1,
  SUBSCRIBED: 2,
  FAILED: 3,
} as const;
export type SubscriptionStateValue = (typeof SubscriptionState)[keyof typeof SubscriptionState];

/** Told once per subscriber when its SUBSCRIBE is settled, either way. */
export type SubscribeSettled = (subscriber: Subscriber) => void;

export class Subscriber implements PacketHandler {
  readonly client: Client;
  readonly filter: string;
  readonly qos: QoS;
  state: SubscriptionStateValue = SubscriptionState.NONE;
  receivedCount = 0;
  private readonly stats: WorkerStats;
  private readonly settled: SubscribeSettled;

  constructor(
    client: Client,
    filter: string,
    qos: QoS,
    stats: WorkerStats,
    settled: SubscribeSettled,
  ) {
    this.client = client;
    this.filter = filter;
    this.qos = qos;
    this.stats = stats;
    this.settled = settled;
  }

  /** Sends SUBSCRIBE; false (and settled at once) when the client is not connected. */
  subscribe(): boolean {
    if (this.state !== SubscriptionState.NONE) return false;
    if (this.client.state !== ClientState.CONNECTED) {
      this.fail("subscribe:not connected");
      return false;
    }
    this.state = SubscriptionState.WAITING;
    this.client.write(subscribePacket(this.filter, this.qos, this.client.version));
    return true;
  }

  /** The SUBACK did not come in time, or the connection went away first. */
  fail(kind: string): void {
    if (this.state === SubscriptionState.SUBSCRIBED || this.state === SubscriptionState.FAILED)
      return;
    this.state = SubscriptionState.FAILED;
    this.stats.counters.subscribeFailedCount++;
    this.stats.error(kind);
    this.settled(this);
  }

  onPacket(packet: Packet): void {
    switch (packet.type) {
      case "publish":
        this.onPublish(packet.payload, packet.qos, packet.packetId ?? 0);
        break;
      case "pubrel":
        this.client.queueAck(AckByte.PUBCOMP, packet.packetId);
        break;
      case "suback":
        this.onSuback(packet.reasonCodes[0] ?? SUBACK_FAILURE_MIN);
        break;
    }
  }

  private onPublish(payload: Buffer, qos: QoS, packetId: number): void {
    const counters = this.stats.counters;
    const arrivedMicros = this.client.chunkMicros;
    this.receivedCount++;
    counters.receivedCount++;
    counters.receivedPayloadBytes += payload.length;
    if (counters.firstReceiveMicros === 0) counters.firstReceiveMicros = arrivedMicros;
    counters.lastReceiveMicros = arrivedMicros;
    const sentMicros = payloadTimestampMicros(payload);
    if (sentMicros >= 0) recordMicros(this.stats.latency, arrivedMicros - sentMicros);
    if (qos === 1) this.client.queueAck(AckByte.PUBACK, packetId);
    else if (qos === 2) this.client.queueAck(AckByte.PUBREC, packetId);
  }

  private onSuback(code: number): void {
    if (this.state !== SubscriptionState.WAITING) return;
    if (code >= SUBACK_FAILURE_MIN) {
      this.fail(`subscribe:suback ${reasonText(code, this.client.version)}`);
      return;
    }
    this.state = SubscriptionState.SUBSCRIBED;
    this.stats.counters.subscribedCount++;
    this.settled(this);
  }
}
