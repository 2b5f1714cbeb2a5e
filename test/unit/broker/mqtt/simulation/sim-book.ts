/**
 * The session side of a simulated client: its half of the MQTT session state (packet
 * identifiers, its unfinished PUBLISHes, inbound QoS 2 ids) and the bookkeeping the checker
 * judges by (which subscriptions it can count on, in which session generation).
 */
import { ReasonCode, type SubscriptionRequest } from "../../../../../src/protocol/mqtt/index.ts";
import {
  type Checker,
  type PublishRecord,
  type QoS,
  type SubInterval,
  type Trace,
  topicMatches,
} from "./sim-model.ts";
import { matchFilterOf } from "./sim-profile.ts";

/** A client's PUBLISH not yet completed (QoS 1: PUBACK; QoS 2: PUBREC, PUBREL, PUBCOMP). */
export interface Outgoing {
  readonly record: PublishRecord;
  readonly packetId: number;
  /** PUBREC read: PUBREL is what is resent. */
  released: boolean;
}

export interface PendingSubscribe {
  readonly requests: SubscriptionRequest[];
  readonly at: number;
  /** Its Subscription Identifier; 0 = none. */
  readonly subId: number;
}

export class ClientBook {
  private readonly clientId: string;
  private readonly trace: Trace;
  private readonly checker: Checker;
  private readonly log: (text: string) => number;
  /** Obligation epoch: a new one whenever the session may have been replaced. */
  generation = 0;
  private nextPacketId = 1;
  nextSeq = 1;
  readonly outgoing = new Map<number, Outgoing>();
  readonly pendingSubs = new Map<number, PendingSubscribe>();
  /** When a SUBSCRIBE or UNSUBSCRIBE for each filter was last sent. */
  readonly lastRequestAt = new Map<string, number>();
  readonly pendingUnsubs = new Set<number>();
  /** Inbound QoS 2 packet identifiers taken and not yet released by PUBREL (method A). */
  readonly inboundQos2 = new Set<number>();
  /** Confirmed subscriptions by filter. */
  readonly subscriptions = new Map<string, SubInterval>();
  /** Subscription Identifier of each confirmed subscription that has one. */
  readonly subIdOf = new Map<string, number>();
  /** Every Subscription Identifier ever requested, with the filters it was for. */
  readonly requestedIds = new Map<number, Set<string>>();
  /** Event of the last change to the subscriptions (sent or confirmed). */
  lastSubChangeAt = 0;
  /** A SUBSCRIBE or UNSUBSCRIBE whose answer was lost: the broker's view is unknown. */
  subsUnknown = false;

  constructor(clientId: string, trace: Trace, checker: Checker, log: (text: string) => number) {
    this.clientId = clientId;
    this.trace = trace;
    this.checker = checker;
    this.log = log;
  }

  /** The session is new: the client's half of the old one is gone too [MQTT-3.1.2-4]. */
  discardSessionState(): void {
    this.outgoing.clear();
    this.inboundQos2.clear();
  }

  allocatePacketId(): number {
    for (let i = 0; i < 65535; i++) {
      const id = this.nextPacketId;
      this.nextPacketId = id === 65535 ? 1 : id + 1;
      if (!this.outgoing.has(id) && !this.pendingSubs.has(id) && !this.pendingUnsubs.has(id)) {
        return id;
      }
    }
    throw new Error("no free packet id");
  }

  newGeneration(why: string): void {
    const at = this.trace.at;
    for (const interval of this.subscriptions.values()) interval.endedAt = at;
    this.subscriptions.clear();
    this.subIdOf.clear();
    this.subsUnknown = false;
    this.lastSubChangeAt = at;
    this.generation++;
    this.log(`generation ${this.generation} (${why})`);
  }

  endInterval(filter: string, why: string): void {
    const interval = this.subscriptions.get(filter);
    if (interval === undefined) return;
    interval.endedAt = this.trace.at;
    this.subscriptions.delete(filter);
    this.subIdOf.delete(filter);
    this.log(`${filter} no longer counted on (${why})`);
  }

  /** A SUBACK: the granted subscriptions become intervals the checker counts on. */
  onSuback(packetId: number, codes: readonly number[]): void {
    const { checker } = this;
    const pending = this.pendingSubs.get(packetId);
    this.log(`got SUBACK id=${packetId} ${codes.join(",")}`);
    if (pending === undefined) {
      checker.fail(`${this.clientId}: SUBACK for unknown id ${packetId}`);
      return;
    }
    const requests = pending.requests;
    this.pendingSubs.delete(packetId);
    checker.check(codes.length === requests.length, () => `${this.clientId}: SUBACK code count`);
    const at = this.trace.at;
    this.lastSubChangeAt = at;
    requests.forEach((r, i) => {
      const code = codes[i];
      checker.check(
        code <= r.qos,
        () => `${this.clientId}: ${r.topicFilter} granted ${code} > ${r.qos}`,
      );
      if (code >= 0x80) return;
      // A later SUBSCRIBE or UNSUBSCRIBE of the filter, already sent, decides its fate.
      if ((this.lastRequestAt.get(r.topicFilter) ?? 0) > pending.at) return;
      const interval: SubInterval = {
        client: this.clientId,
        generation: this.generation,
        filter: r.topicFilter,
        matchFilter: matchFilterOf(r.topicFilter),
        shared: r.topicFilter.startsWith("$share/"),
        qos: code as QoS,
        noLocal: r.noLocal,
        confirmedAt: at,
        endedAt: Number.POSITIVE_INFINITY,
      };
      this.subscriptions.set(r.topicFilter, interval);
      if (pending.subId !== 0) this.subIdOf.set(r.topicFilter, pending.subId);
      else this.subIdOf.delete(r.topicFilter);
      checker.intervals.push(interval);
    });
  }

  /** Answers to SUBSCRIBE/UNSUBSCRIBE will not come (a new connection): state unknown. */
  forgetPending(): void {
    if (this.pendingSubs.size > 0 || this.pendingUnsubs.size > 0) this.subsUnknown = true;
    this.pendingSubs.clear();
    this.pendingUnsubs.clear();
  }

  /**
   * The Subscription Identifiers a PUBLISH on `topic` must carry, when the client knows
   * exactly which of its subscriptions the broker matched it against (none changed since
   * `sentAt`, none in doubt); null when it cannot know. `self`: it published it itself.
   */
  expectedSubIds(topic: string, sentAt: number, self: boolean): number[] | null {
    if (this.subsUnknown || sentAt <= this.lastSubChangeAt) return null;
    if (this.pendingSubs.size > 0 || this.pendingUnsubs.size > 0) return null;
    const ids = new Set<number>();
    for (const [filter, interval] of this.subscriptions) {
      if (!topicMatches(interval.matchFilter, topic)) continue;
      if (interval.noLocal && self) continue;
      const id = this.subIdOf.get(filter);
      if (id !== undefined) ids.add(id);
    }
    return [...ids].sort((a, b) => a - b);
  }

  /**
   * What a PUBACK, PUBREC or PUBCOMP of one of its PUBLISHes means: "next" = the flow goes
   * on (PUBREL to send), "done" = completed, "ignore", or "error" (reported).
   */
  onPublishAck(
    type: "puback" | "pubrec" | "pubcomp",
    id: number,
    code: number,
    at: number,
    nowMs: number,
  ): "next" | "done" | "ignore" | "error" {
    const out = this.outgoing.get(id);
    const expected =
      out === undefined
        ? "none"
        : out.record.qos === 1
          ? "puback"
          : out.released
            ? "pubcomp"
            : "pubrec";
    if (out === undefined || expected !== type) {
      // A PUBREC answered on an earlier connection may come again after the resend: harmless.
      if (type === "pubrec" && out?.released === true) return "ignore";
      this.checker.fail(`${this.clientId}: ${type} for id ${id}, expected ${expected}`);
      return "error";
    }
    // PUBCOMP 0x92: our PUBREL was resent after the broker had released the id [MQTT-4.3.3].
    const done =
      code < 0x80 || (type === "pubcomp" && code === ReasonCode.PACKET_IDENTIFIER_NOT_FOUND);
    this.checker.check(
      done,
      () => `${this.clientId}: ${type} of ${out.record.key} with reason ${code}`,
    );
    if (out.record.ackedAt < 0 && type !== "pubcomp") {
      out.record.ackedAt = at;
      out.record.ackedAtMs = nowMs;
    }
    if (type === "pubrec") {
      out.released = true;
      return "next";
    }
    this.outgoing.delete(id);
    return "done";
  }
}
