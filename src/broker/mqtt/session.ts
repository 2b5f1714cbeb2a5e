import { PACKET_ID_MAX } from "../../config/limits.ts";
import { assert } from "../../errors.ts";
import type { ProtocolLevel, QoS } from "../../protocol/mqtt/constants.ts";
import { Deque } from "./deque.ts";
import type { Message } from "./message.ts";

export type QueueDropPolicy = "drop_new" | "drop_oldest";

export interface Subscription {
  /** The filter exactly as subscribed, including any `$share/{group}/` prefix. */
  readonly filter: string;
  /** The filter that is matched against topic names (without the share prefix). */
  readonly matchFilter: string;
  /** Share group name, or null for a normal subscription. */
  readonly shareGroup: string | null;
  readonly qos: QoS;
  readonly noLocal: boolean;
  readonly retainAsPublished: boolean;
  readonly retainHandling: 0 | 1 | 2;
  /** Subscription Identifier; 0 = none. */
  readonly subscriptionId: number;
  /** Subscribed as `$exclusive/<filter>`: the session holds the filter's claim (exclusive.ts). */
  readonly exclusive: boolean;
}

/** Delivery states of a message on its way to one session. */
export const DeliveryState = {
  QUEUED: 0,
  /** PUBLISH sent, waiting for PUBACK (QoS 1) or PUBREC (QoS 2). */
  AWAITING_ACK: 1,
  /** PUBREL sent, waiting for PUBCOMP (QoS 2). */
  AWAITING_COMP: 2,
} as const;
export type DeliveryStateValue = (typeof DeliveryState)[keyof typeof DeliveryState];

/** One message on its way to one session. */
export interface Delivery {
  readonly message: Message;
  readonly qos: QoS;
  /** RETAIN flag to send (retain-as-published or a retained message on subscribe). */
  readonly retain: boolean;
  readonly subscriptionIds: number[] | null;
  /** The share group it came through, for redelivery to another member; null otherwise. */
  readonly share: ShareRef | null;
  packetId: number;
  state: DeliveryStateValue;
  /** A QoS 2 PUBLISH held back until its packet id is durable (see persistence/). */
  held: boolean;
}

/** A share group as deliveries refer to it (the router owns the real object). */
export interface ShareRef {
  readonly group: string;
  readonly filter: string;
}

/** What the session's owner (a live connection) must provide. */
export interface SessionLink {
  readonly protocolVersion: ProtocolLevel;
  /** The client's Maximum Packet Size (v5 CONNECT); 0 = no limit. */
  readonly clientMaxPacketBytes: number;
}

const NO_SUBSCRIPTIONS: readonly Subscription[] = [];

export type EnqueueResult = "queued" | "dropped_new" | "dropped_oldest";

/**
 * The broker-side state of one MQTT session [MQTT-4.1]: pure data and bookkeeping, no sockets
 * and no timers, so it can be persisted and tested on its own.
 */
export class Session {
  readonly clientId: string;
  // The four collections are made on first use: an idle client without subscriptions needs
  // none of them, and at 100,000 connections their empty tables cost more than the rest of
  // the session (see bench/README.md, connections). Read their sizes through the *Count
  // getters below, which do not allocate.
  private subscriptionMap: Map<string, Subscription> | null = null;
  private inflightMap: Map<number, Delivery> | null = null;
  private queueDeque: Deque<Delivery> | null = null;
  private inboundSet: Set<number> | null = null;
  /** Session Expiry Interval in seconds; 0 = ends with the connection. */
  expiryIntervalS = 0;
  /** The live connection, or null while the session is offline. */
  link: SessionLink | null = null;
  /** The Session Expiry Interval the message log holds for it; 0 = not persisted. */
  persistedExpiryS = 0;
  /** Outbound PUBLISHes held for the log (see MqttBroker.holdSend), chained in order. */
  sendHold: Promise<void> | null = null;
  sendHolds = 0;
  /** The last append for this session's inbound flow, which duplicate acks wait for. */
  lastStored: Promise<unknown> | null = null;
  /** When the session went offline (ms since epoch), for expiry. */
  disconnectedAtMs = 0;
  /** Set while the queue overflows, so the drop is logged once per episode. */
  queueOverflowLogged = false;
  private nextPacketId = 1;

  // Per-publish match aggregation scratch space (see Router): avoids a Map per publish.
  matchEpoch = 0;
  matchQos: QoS = 0;
  matchRetain = false;
  matchSubscriptionIds: number[] | null = null;

  constructor(clientId: string) {
    this.clientId = clientId;
  }

  get subscriptions(): Map<string, Subscription> {
    if (this.subscriptionMap === null) this.subscriptionMap = new Map();
    return this.subscriptionMap;
  }

  /** Outbound QoS 1/2 deliveries by packet identifier, in send order. */
  get inflight(): Map<number, Delivery> {
    if (this.inflightMap === null) this.inflightMap = new Map();
    return this.inflightMap;
  }

  /** Deliveries waiting for the inflight window or for the client to come back. */
  get queue(): Deque<Delivery> {
    if (this.queueDeque === null) this.queueDeque = new Deque();
    return this.queueDeque;
  }

  /** Inbound QoS 2 packet identifiers received and PUBREC'd, waiting for PUBREL. */
  get inboundQos2(): Set<number> {
    if (this.inboundSet === null) this.inboundSet = new Set();
    return this.inboundSet;
  }

  get subscriptionCount(): number {
    return this.subscriptionMap === null ? 0 : this.subscriptionMap.size;
  }

  get inflightCount(): number {
    return this.inflightMap === null ? 0 : this.inflightMap.size;
  }

  get queueLength(): number {
    return this.queueDeque === null ? 0 : this.queueDeque.length;
  }

  get inboundQos2Count(): number {
    return this.inboundSet === null ? 0 : this.inboundSet.size;
  }

  /** The subscriptions, without making the map for a session that has none. */
  subscriptionValues(): Iterable<Subscription> {
    return this.subscriptionMap === null ? NO_SUBSCRIPTIONS : this.subscriptionMap.values();
  }

  /**
   * Drops the collections that are empty again. Readers outside the hot path (metrics,
   * checkpoints) go through the allocating getters; this hands that memory back.
   */
  releaseEmpty(): void {
    if (this.subscriptionMap?.size === 0) this.subscriptionMap = null;
    if (this.inflightMap?.size === 0) this.inflightMap = null;
    if (this.queueDeque?.length === 0) this.queueDeque = null;
    if (this.inboundSet?.size === 0) this.inboundSet = null;
  }

  /** A free packet identifier for an outbound QoS 1/2 PUBLISH, or 0 if all are in use. */
  allocatePacketId(): number {
    if (this.inflightCount >= PACKET_ID_MAX) return 0;
    let id = this.nextPacketId;
    while (this.inflight.has(id)) id = id === PACKET_ID_MAX ? 1 : id + 1;
    this.nextPacketId = id === PACKET_ID_MAX ? 1 : id + 1;
    assert(id >= 1 && id <= PACKET_ID_MAX, "packet id range");
    return id;
  }

  /** Puts a delivery on the queue within `max`, applying the drop policy on overflow. */
  enqueue(delivery: Delivery, max: number, policy: QueueDropPolicy): EnqueueResult {
    assert(delivery.state === DeliveryState.QUEUED, "only queued deliveries go on the queue");
    if (this.queue.length < max) {
      this.queue.push(delivery);
      return "queued";
    }
    if (policy === "drop_new" || max === 0) return "dropped_new";
    this.queue.shift();
    this.queue.push(delivery);
    return "dropped_oldest";
  }

  /** Marks a delivery as sent under a fresh packet identifier. */
  markSent(delivery: Delivery, packetId: number): void {
    assert(delivery.qos > 0 && packetId > 0, "only QoS 1/2 deliveries are inflight");
    assert(!this.inflight.has(packetId), "packet id in use");
    delivery.packetId = packetId;
    delivery.state = DeliveryState.AWAITING_ACK;
    this.inflight.set(packetId, delivery);
  }

  /** PUBACK received: completes a QoS 1 delivery. */
  onPuback(packetId: number): Delivery | undefined {
    const delivery = this.inflight.get(packetId);
    if (delivery === undefined || delivery.qos !== 1) return undefined;
    this.inflight.delete(packetId);
    return delivery;
  }

  /**
   * PUBREC received. Returns "pubrel" when a PUBREL must be sent, "done" when the receiver
   * refused the message (v5 reason >= 0x80 ends the flow), "unknown" for an unknown id.
   */
  onPubrec(packetId: number, reasonCode: number): "pubrel" | "done" | "unknown" {
    const delivery = this.inflight.get(packetId);
    if (delivery === undefined || delivery.qos !== 2) return "unknown";
    if (reasonCode >= 0x80) {
      this.inflight.delete(packetId);
      return "done";
    }
    delivery.state = DeliveryState.AWAITING_COMP;
    return "pubrel";
  }

  /** PUBCOMP received: completes a QoS 2 delivery. */
  onPubcomp(packetId: number): boolean {
    const delivery = this.inflight.get(packetId);
    if (delivery === undefined || delivery.state !== DeliveryState.AWAITING_COMP) return false;
    this.inflight.delete(packetId);
    return true;
  }

  /**
   * Takes every delivery that came through a shared subscription, queued, or inflight at QoS 1,
   * whose group `movable` accepts (default: all). Deliveries left behind keep their packet
   * identifier and place, so a resumed session resends them as they were [MQTT-4.4.0-1].
   */
  takeSharedDeliveries(movable: (share: ShareRef) => boolean = () => true): Delivery[] {
    const taken: Delivery[] = [];
    if (this.inflightCount === 0 && this.queueLength === 0) return taken;
    for (const [packetId, delivery] of this.inflight) {
      // A QoS 2 PUBLISH once sent may already be in the application's hands: it is completed
      // with this client on resume, or dropped with the session [MQTT-4.8.2-4, -5]. One still
      // held may have its packet id in the log for this session already, so it stays too.
      if (delivery.share === null || delivery.qos === 2) continue;
      if (!movable(delivery.share)) continue;
      this.inflight.delete(packetId);
      taken.push(delivery);
    }
    const kept: Delivery[] = [];
    for (let d = this.queue.shift(); d !== undefined; d = this.queue.shift()) {
      if (d.share === null || !movable(d.share)) kept.push(d);
      else taken.push(d);
    }
    for (const d of kept) this.queue.push(d);
    return taken;
  }

  /**
   * Removes the deliveries of `message` not yet sent (queued, or held for the log); returns how
   * many. For a message that could not be stored, whose publisher was told so.
   */
  withdraw(message: Message): number {
    let count = 0;
    for (const [packetId, delivery] of this.inflight) {
      if (delivery.message === message && delivery.held) {
        this.inflight.delete(packetId);
        count++;
      }
    }
    const kept: Delivery[] = [];
    for (let d = this.queue.shift(); d !== undefined; d = this.queue.shift()) {
      if (d.message === message) count++;
      else kept.push(d);
    }
    for (const d of kept) this.queue.push(d);
    return count;
  }

  clearAll(): void {
    this.subscriptionMap = null;
    this.inflightMap = null;
    this.queueDeque = null;
    this.inboundSet = null;
  }
}

export function newDelivery(
  message: Message,
  qos: QoS,
  retain: boolean,
  subscriptionIds: number[] | null,
  share: ShareRef | null,
): Delivery {
  return {
    message,
    qos,
    retain,
    subscriptionIds,
    share,
    packetId: 0,
    state: DeliveryState.QUEUED,
    held: false,
  };
}
