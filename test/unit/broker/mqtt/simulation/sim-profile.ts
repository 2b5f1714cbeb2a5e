/**
 * What a simulated client is (its profile, drawn once per run from the seed), what every
 * client shares (SimContext), and the pure helpers that build its packets.
 */
import type { MqttBroker } from "../../../../../src/broker/mqtt/broker.ts";
import type { Packet, SubscriptionRequest } from "../../../../../src/protocol/mqtt/index.ts";
import type { Properties } from "../../../../../src/protocol/mqtt/packets.ts";
import type { Prng } from "../../../../helpers/prng.ts";
import type { Checker, PublishRecord, QoS, Trace } from "./sim-model.ts";
import type { SimSocket, SocketLimits } from "./sim-socket.ts";
import { WILL_TOPIC_PREFIX, type WillTracker } from "./sim-wills.ts";

/** What every client shares: the seeded PRNG, the checker, the trace, the broker, the clock. */
export interface SimContext {
  readonly rng: Prng;
  readonly checker: Checker;
  readonly trace: Trace;
  readonly broker: MqttBroker;
  /** Which PUBLISHes carry padding (`key|xxx`), and how much at most (30 more at least). */
  readonly padding: {
    readonly anyVersion: boolean;
    readonly chance: number;
    readonly maxBytes: number;
  };
  /** Every client socket's receive buffer and high-water mark. */
  readonly socketLimits: SocketLimits;
  /** The broker's max_inflight_messages: the window of a v3 client. */
  readonly inflightMax: number;
  readonly wills: WillTracker;
  /** The client sent something the broker must refuse with a protocol error. */
  expectProtocolError(): void;
  nowMs(): number;
  /** Whether the broker holds back the connection on `socket` (FlowControl.heldByUs). */
  heldByBroker(socket: SimSocket): boolean;
}

export interface ClientProfile {
  readonly id: string;
  readonly version: 4 | 5;
  /** v5 Session Expiry Interval (s); v3: 0 = clean session, anything else = persistent. */
  readonly expiryS: number;
  readonly keepAliveS: number;
  /** v5 Receive Maximum it announces. */
  readonly receiveMax: number;
  /** The one share group it may join (`$share/{group}/{filter}`) and at which QoS. */
  readonly share: { readonly filter: string; readonly qos: QoS } | null;
  readonly ackLateChance: number;
  readonly ackNeverChance: number;
  /** The will each of its connections carries (v3: no delay). */
  readonly will: { readonly delayS: number; readonly qos: QoS } | null;
  /** v5 Topic Alias Maximum it announces (0 = it takes none). */
  readonly topicAliasMax: number;
  /** v5: it uses topic aliases in its own PUBLISHes. */
  readonly aliasesOut: boolean;
  /** v5 Maximum Packet Size it announces; 0 = none. */
  readonly maxPacketBytes: number;
  /** v5: its SUBSCRIBEs carry Subscription Identifiers. */
  readonly subIds: boolean;
  /** v5: share of its PUBLISHes with a Message Expiry Interval. */
  readonly expiryChance: number;
}

/** Topic names publishers use: `t/` for normal subscriptions, `s/` for share groups. */
export const DIRECT_TOPICS = ["t/a", "t/b", "t/a/x", "t/a/y", "t/b/x", "t/c/y"] as const;
export const SHARED_TOPICS = ["s/a/x", "s/a/y", "s/b/x"] as const;
export const DIRECT_FILTERS = ["t/#", "t/a", "t/a/#", "t/+/x", "t/a/x", "t/+", "t/c/+"] as const;

/** Derived facts about a profile. */
export class ProfileView {
  readonly p: ClientProfile;

  constructor(p: ClientProfile) {
    this.p = p;
  }

  /** How long the broker keeps it (v3 persistent sessions: the broker's maximum, a week). */
  get expiryMs(): number {
    return this.p.version === 4 ? 604_800_000 : this.p.expiryS * 1000;
  }
}

export function request(
  filter: string,
  qos: QoS,
  noLocal: boolean,
  retainHandling: number,
): SubscriptionRequest {
  return {
    topicFilter: filter,
    qos,
    noLocal,
    retainAsPublished: false,
    retainHandling: retainHandling as 0 | 1 | 2,
  };
}

/**
 * The Receive Maximum of a client's `number`th connection: the profile's, halved on every
 * second connection, so that sessions also resume with a smaller window than they left with
 * [MQTT-3.3.4-9].
 */
export function connectionReceiveMax(p: ClientProfile, number: number): number {
  return number % 2 === 0 ? Math.ceil(p.receiveMax / 2) : p.receiveMax;
}

/** CONNECT with the profile's options and, when it has one, its will on `w/{client id}`. */
export function connectPacket(
  p: ClientProfile,
  cleanStart: boolean,
  willPayload: string,
  receiveMax: number,
): Packet {
  const v5 = p.version === 5;
  const properties: Properties = { sessionExpiryInterval: p.expiryS, receiveMaximum: receiveMax };
  if (p.topicAliasMax > 0) properties.topicAliasMaximum = p.topicAliasMax;
  if (p.maxPacketBytes > 0) properties.maximumPacketSize = p.maxPacketBytes;
  const will =
    p.will === null
      ? undefined
      : {
          topic: `${WILL_TOPIC_PREFIX}${p.id}`,
          payload: Buffer.from(willPayload),
          qos: p.will.qos,
          retain: false,
          properties: v5 ? { willDelayInterval: p.will.delayS } : undefined,
        };
  return {
    type: "connect",
    protocolName: "MQTT",
    protocolVersion: p.version,
    cleanStart,
    keepAlive: p.keepAliveS,
    clientId: p.id,
    will,
    properties: v5 ? properties : undefined,
  };
}

/** `$share/{group}/{filter}` -> `{filter}`. */
export function matchFilterOf(filter: string): string {
  if (!filter.startsWith("$share/")) return filter;
  return filter.slice(filter.indexOf("/", "$share/".length) + 1);
}

/** The payload of a record: its key, and padding after a `|` when it has some. */
export function payloadOf(record: PublishRecord): Buffer {
  if (record.empty) return Buffer.alloc(0);
  const pad = record.padBytes > 0 ? `|${"x".repeat(record.padBytes)}` : "";
  return Buffer.from(record.key + pad);
}

/** `alias`: a Topic Alias to send; `aliasOnly`: with an empty topic name (alias known). */
export function publishPacket(
  record: PublishRecord,
  packetId: number | undefined,
  dup: boolean,
  alias = 0,
  aliasOnly = false,
): Packet {
  const properties: Properties = {};
  if (record.expiryS > 0) properties.messageExpiryInterval = record.expiryS;
  if (alias > 0) properties.topicAlias = alias;
  const packet: Packet = {
    type: "publish",
    topic: aliasOnly ? "" : record.topic,
    payload: payloadOf(record),
    qos: record.qos,
    retain: record.retain,
    dup,
    packetId,
  };
  if (Object.keys(properties).length > 0) packet.properties = properties;
  return packet;
}

export function pick<T>(rng: Prng, items: readonly T[]): T {
  return items[rng.below(items.length)];
}
