/**
 * A simulated MQTT client: the project's encoder and parser over a SimSocket, with the client
 * half of the protocol (packet identifiers, QoS 1/2 flows in both directions, resend on resume,
 * keep alive) and a seeded policy for when it acknowledges: at once, later, or never on this
 * connection. Everything it reads goes to the Checker; what it can check alone (packet
 * identifiers in use, receive maximum, session present, keep alive) it checks itself.
 */
import type { MqttBroker } from "../../../../../src/broker/mqtt/broker.ts";
import {
  encode,
  MqttParser,
  type Packet,
  type PublishPacket,
  ReasonCode,
  type SubscriptionRequest,
} from "../../../../../src/protocol/mqtt/index.ts";
import type { Prng } from "../../../../helpers/prng.ts";
import type { Checker, PublishRecord, QoS, SubInterval, Trace } from "./sim-model.ts";
import { SimSocket, type SocketPeer } from "./sim-socket.ts";

/** What every client shares: the seeded PRNG, the checker, the trace, the broker, the clock. */
export interface SimContext {
  readonly rng: Prng;
  readonly checker: Checker;
  readonly trace: Trace;
  readonly broker: MqttBroker;
  /** The broker's max_inflight_messages: the window of a v3 client. */
  readonly inflightMax: number;
  nowMs(): number;
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
}

/** Topic names publishers use: `t/` for normal subscriptions, `s/` for share groups. */
export const DIRECT_TOPICS = ["t/a", "t/b", "t/a/x", "t/a/y", "t/b/x", "t/c/y"] as const;
export const SHARED_TOPICS = ["s/a/x", "s/a/y", "s/b/x"] as const;
export const DIRECT_FILTERS = ["t/#", "t/a", "t/a/#", "t/+/x", "t/a/x", "t/+", "t/c/+"] as const;

/** A client's PUBLISH not yet completed (QoS 1: PUBACK; QoS 2: PUBREC, PUBREL, PUBCOMP). */
interface Outgoing {
  readonly record: PublishRecord;
  readonly packetId: number;
  /** PUBREC read: PUBREL is what is resent. */
  released: boolean;
}

/** Bytes from the broker, with when they came and when the client had last sent anything. */
interface Arrival {
  readonly bytes: Buffer;
  readonly atMs: number;
  readonly lastSentMs: number;
}

interface Conn {
  readonly socket: SimSocket;
  readonly parser: MqttParser;
  /** Bytes and the end (null) as the broker wrote them, read when the simulation says. */
  readonly inbox: Array<Arrival | null>;
  readonly cleanStart: boolean;
  connacked: boolean;
  /** Given up by the client (takeover from elsewhere, reset): read only to see it end. */
  abandoned: boolean;
  /** The client saw the end or closed it itself. */
  closed: boolean;
  lastSentMs: number;
  /** Ids of PUBLISH/PUBREL read here and not finally acknowledged: the broker's window holds them. */
  readonly unacked: Set<number>;
  /** Acknowledgements the client decided never to send on this connection. */
  readonly withheld: Packet[];
}

export class SimClient implements SocketPeer {
  readonly profile: ProfileView;
  private readonly ctx: SimContext;
  conn: Conn | null = null;
  private readonly old: Conn[] = [];
  private connCount = 0;
  /** Obligation epoch: a new one whenever the session may have been replaced. */
  generation = 0;
  /** A CONNECT went out whose CONNACK was never read: the session may be new. */
  private uncertain = false;
  /** The broker holds a session for us (as far as we know), and since when it is offline. */
  private sessionLive = false;
  private offlineSinceMs = 0;
  private nextPacketId = 1;
  private nextSeq = 1;
  private readonly outgoing = new Map<number, Outgoing>();
  private readonly pendingSubs = new Map<number, { requests: SubscriptionRequest[]; at: number }>();
  /** When a SUBSCRIBE or UNSUBSCRIBE for each filter was last sent. */
  private readonly lastRequestAt = new Map<string, number>();
  private readonly pendingUnsubs = new Set<number>();
  /** Inbound QoS 2 packet identifiers taken and not yet released by PUBREL (method A). */
  private readonly inboundQos2 = new Set<number>();
  /** Confirmed subscriptions by filter. */
  readonly subscriptions = new Map<string, SubInterval>();
  private readonly lateAcks: Array<{ dueMs: number; conn: Conn; packet: Packet }> = [];
  /** Sends nothing (no PINGREQ either) until then: lets keep alive expire. */
  stallUntilMs = 0;
  draining = false;
  /** The bytes being parsed. */
  private arrival: Arrival | null = null;

  constructor(profile: ClientProfile, ctx: SimContext) {
    this.profile = new ProfileView(profile);
    this.ctx = ctx;
  }

  get id(): string {
    return this.profile.p.id;
  }

  /** Connected and usable: CONNACK read, not closed. */
  get online(): boolean {
    return this.conn?.connacked === true && this.attached;
  }

  /** Has a connection that is not known to be gone (possibly still waiting for CONNACK). */
  get attached(): boolean {
    const c = this.conn;
    return c !== null && !c.closed && !c.socket.serverEnded;
  }

  private log(text: string): number {
    return this.ctx.trace.add(`${this.id}${this.conn ? `#${this.connCount}` : ""} ${text}`);
  }

  // ---- SocketPeer ------------------------------------------------------------------------

  onServerBytes(socket: SimSocket, chunk: Buffer): void {
    const conn = this.connOf(socket);
    conn?.inbox.push({ bytes: chunk, atMs: this.ctx.nowMs(), lastSentMs: conn.lastSentMs });
  }

  onServerEnd(socket: SimSocket): void {
    const conn = this.connOf(socket);
    if (conn === undefined) return;
    conn.inbox.push(null);
    if (conn === this.conn && !conn.closed) this.wentOffline();
  }

  private connOf(socket: SimSocket): Conn | undefined {
    if (this.conn?.socket === socket) return this.conn;
    return this.old.find((c) => c.socket === socket);
  }

  private wentOffline(): void {
    this.offlineSinceMs = this.ctx.nowMs();
  }

  // ---- actions ---------------------------------------------------------------------------

  /** CONNECT on a new connection; an open one is abandoned (the broker sees a takeover). */
  connect(cleanStart: boolean): void {
    const p = this.profile.p;
    if (this.conn !== null) this.abandon("for a new connection");
    if (p.version === 4 && p.expiryS === 0) cleanStart = true;
    this.connCount++;
    const socket = new SimSocket(this, `${p.id}#${this.connCount}`);
    const parser = new MqttParser((packet) => this.onPacket(conn, packet), 1 << 20);
    parser.protocolVersion = p.version;
    const conn: Conn = {
      socket,
      parser,
      inbox: [],
      cleanStart,
      connacked: false,
      abandoned: false,
      closed: false,
      lastSentMs: this.ctx.nowMs(),
      unacked: new Set(),
      withheld: [],
    };
    this.conn = conn;
    if (cleanStart) {
      // A clean start discards the client's half of the session too [MQTT-3.1.2-4].
      this.newGeneration("clean start");
      this.outgoing.clear();
      this.inboundQos2.clear();
    }
    this.ctx.broker.accept(socket, `sim:${socket.label}`);
    this.log(`CONNECT v${p.version} clean=${cleanStart} expiry=${p.expiryS} ka=${p.keepAliveS}`);
    this.send(conn, {
      type: "connect",
      protocolName: "MQTT",
      protocolVersion: p.version,
      cleanStart,
      keepAlive: p.keepAliveS,
      clientId: p.id,
      properties:
        p.version === 5
          ? { sessionExpiryInterval: p.expiryS, receiveMaximum: p.receiveMax }
          : undefined,
    });
  }

  /** DISCONNECT (normal) and FIN. */
  disconnect(): void {
    const conn = this.conn;
    if (conn === null || conn.closed) return;
    this.log("DISCONNECT");
    this.send(conn, { type: "disconnect", reasonCode: 0 });
    conn.socket.clientFin();
    this.closeConn(conn);
  }

  /** The connection breaks: no DISCONNECT, no FIN. */
  reset(): void {
    const conn = this.conn;
    if (conn === null || conn.closed) return;
    this.log("connection reset");
    conn.socket.clientReset();
    this.closeConn(conn);
  }

  private closeConn(conn: Conn): void {
    if (!conn.connacked) this.uncertain = true;
    conn.closed = true;
    if (conn === this.conn && !conn.socket.serverEnded) this.wentOffline();
  }

  /** The client walks away from its connection without closing it (it stays half alive). */
  private abandon(why: string): void {
    const conn = this.conn as Conn;
    this.conn = null;
    if (!conn.connacked && !conn.closed) this.uncertain = true;
    // Still open as far as the broker knows: the session is not offline before the takeover.
    if (!conn.closed && !conn.socket.serverEnded) this.offlineSinceMs = this.ctx.nowMs();
    if (!conn.closed) this.log(`abandons its connection ${why}`);
    conn.abandoned = true;
    this.old.push(conn);
  }

  subscribe(): void {
    const conn = this.conn;
    if (conn === null || !this.online) return;
    const { rng } = this.ctx;
    const p = this.profile.p;
    const requests: SubscriptionRequest[] = [];
    if (p.share !== null && rng.chance(0.4)) {
      requests.push(request(p.share.filter, p.share.qos, false, 0));
    } else {
      const count = 1 + rng.below(2);
      for (let i = 0; i < count; i++) {
        const filter = pick(rng, DIRECT_FILTERS);
        if (requests.some((r) => r.topicFilter === filter)) continue;
        const v5 = p.version === 5;
        const noLocal = v5 && rng.chance(0.15);
        requests.push(request(filter, rng.below(3) as QoS, noLocal, v5 ? rng.below(3) : 0));
      }
    }
    const packetId = this.allocatePacketId();
    for (const r of requests) {
      this.ctx.checker.onRequested(this.id, matchFilterOf(r.topicFilter), r.qos);
      this.endInterval(r.topicFilter, "resubscribed");
    }
    const text = requests.map((r) => `${r.topicFilter}@q${r.qos}${r.noLocal ? " nl" : ""}`);
    const at = this.log(`SUBSCRIBE id=${packetId} ${text.join(", ")}`);
    for (const r of requests) this.lastRequestAt.set(r.topicFilter, at);
    this.pendingSubs.set(packetId, { requests, at });
    this.send(conn, { type: "subscribe", packetId, subscriptions: requests });
  }

  unsubscribe(): void {
    const conn = this.conn;
    if (conn === null || !this.online || this.subscriptions.size === 0) return;
    const filters = [...this.subscriptions.keys()];
    const filter = filters[this.ctx.rng.below(filters.length)];
    this.endInterval(filter, "unsubscribed");
    const packetId = this.allocatePacketId();
    this.pendingUnsubs.add(packetId);
    this.lastRequestAt.set(filter, this.log(`UNSUBSCRIBE id=${packetId} ${filter}`));
    this.send(conn, { type: "unsubscribe", packetId, topicFilters: [filter] });
  }

  /** A PUBLISH on a random topic; skipped while 8 of its own are unfinished. */
  publish(): void {
    const conn = this.conn;
    if (conn === null || !this.online || this.outgoing.size >= 8) return;
    const { rng, checker } = this.ctx;
    const shared = rng.chance(0.3);
    const topic = shared ? pick(rng, SHARED_TOPICS) : pick(rng, DIRECT_TOPICS);
    const qos = rng.below(3) as QoS;
    const retain = rng.chance(0.15);
    const empty = retain && rng.chance(0.2);
    const seq = this.nextSeq++;
    const key = `${this.id}/${seq}`;
    const at = this.log(`PUBLISH ${topic} q${qos}${retain ? " retain" : ""} "${empty ? "" : key}"`);
    const record: PublishRecord = {
      key,
      publisher: this.id,
      seq,
      topic,
      qos,
      retain,
      empty,
      sentAt: at,
      ackedAt: -1,
    };
    checker.onPublishSent(record);
    const packetId = qos === 0 ? undefined : this.allocatePacketId();
    if (packetId !== undefined) this.outgoing.set(packetId, { record, packetId, released: false });
    this.send(conn, publishPacket(record, packetId, false));
  }

  ping(): void {
    const conn = this.conn;
    if (conn === null || !this.online) return;
    this.send(conn, { type: "pingreq" });
  }

  /** Time passed: late acknowledgements fall due, keep alive wants a PINGREQ. */
  onTime(nowMs: number): void {
    for (let i = 0; i < this.lateAcks.length; ) {
      const late = this.lateAcks[i];
      if (late.dueMs > nowMs && !this.draining) {
        i++;
        continue;
      }
      this.lateAcks.splice(i, 1);
      if (late.conn === this.conn) this.sendAck(late.conn, late.packet);
    }
    const conn = this.conn;
    const ka = this.profile.p.keepAliveS * 1000;
    if (conn === null || !this.online || ka === 0) return;
    if (nowMs < this.stallUntilMs && !this.draining) return;
    if (nowMs - conn.lastSentMs >= ka / 2) this.ping();
  }

  /** From now on everything is acknowledged at once, including what was withheld. */
  startDrain(): void {
    this.draining = true;
    this.stallUntilMs = 0;
    const conn = this.conn;
    if (conn === null || conn.closed) return;
    for (const packet of conn.withheld.splice(0)) this.sendAck(conn, packet);
    this.onTime(this.ctx.nowMs());
  }

  // ---- reading ---------------------------------------------------------------------------

  /** Reads what the broker wrote to the current connection and to abandoned ones. */
  read(): boolean {
    let progressed = false;
    for (const conn of this.old) progressed = this.readConn(conn) || progressed;
    this.old.splice(0, this.old.length, ...this.old.filter((c) => !c.closed));
    if (this.conn !== null) progressed = this.readConn(this.conn) || progressed;
    return progressed;
  }

  private readConn(conn: Conn): boolean {
    if (conn.inbox.length === 0) return false;
    for (const chunk of conn.inbox.splice(0)) {
      if (chunk === null) {
        this.onEnd(conn);
        break;
      }
      if (conn.closed || conn.abandoned) continue; // read and thrown away
      this.arrival = chunk;
      const error = conn.parser.push(chunk.bytes);
      if (error !== null) this.ctx.checker.fail(`${this.id} cannot parse the broker: ${error}`);
    }
    return true;
  }

  /** The broker ended the connection: answer with FIN, as a TCP stack would. */
  private onEnd(conn: Conn): void {
    if (!conn.closed && !conn.abandoned) this.log("connection closed by the broker");
    if (!conn.closed) {
      if (!conn.connacked) this.uncertain = true;
      conn.closed = true;
    }
    conn.socket.clientFin();
  }

  private onPacket(conn: Conn, packet: Packet): void {
    if (conn.closed || conn.abandoned) return;
    switch (packet.type) {
      case "connack":
        this.onConnack(conn, packet.sessionPresent, packet.reasonCode);
        return;
      case "publish":
        this.onPublish(conn, packet);
        return;
      case "puback":
      case "pubrec":
      case "pubcomp":
        this.onPublishAck(conn, packet.type, packet.packetId, packet.reasonCode);
        return;
      case "pubrel":
        this.onPubrel(conn, packet.packetId);
        return;
      case "suback":
        this.onSuback(packet.packetId, packet.reasonCodes);
        return;
      case "unsuback":
        this.ctx.checker.check(this.pendingUnsubs.delete(packet.packetId), () => {
          return `${this.id}: UNSUBACK for unknown id ${packet.packetId}`;
        });
        return;
      case "pingresp":
        return;
      case "disconnect":
        this.onServerDisconnect(packet.reasonCode);
        return;
      default:
        this.ctx.checker.fail(`${this.id}: unexpected ${packet.type} from the broker`);
    }
  }

  private onConnack(conn: Conn, present: boolean, code: number): void {
    const { checker } = this.ctx;
    this.log(`CONNACK present=${present} code=${code}`);
    if (code !== 0) {
      checker.fail(`${this.id}: CONNECT refused with ${code}`);
      return;
    }
    checker.check(!conn.connacked, () => `${this.id}: second CONNACK`);
    conn.connacked = true;
    this.checkSessionPresent(conn, present);
    if (!present) {
      this.newGeneration("no session present");
      this.outgoing.clear();
      this.inboundQos2.clear();
    } else if (this.uncertain) {
      this.newGeneration("session present after an unanswered CONNECT");
    }
    this.uncertain = false;
    // v3 clean session: the session ends with the connection [MQTT-3.1.2-6].
    this.sessionLive = this.profile.p.version === 5 ? this.profile.p.expiryS > 0 : !conn.cleanStart;
    this.pendingSubs.clear();
    this.pendingUnsubs.clear();
    // [MQTT-4.4.0-1] resend what is unfinished, in the original order.
    for (const out of this.outgoing.values()) {
      if (out.released) this.send(conn, { type: "pubrel", packetId: out.packetId, reasonCode: 0 });
      else this.send(conn, publishPacket(out.record, out.packetId, true));
    }
  }

  /** [MQTT-3.2.2-1..3] What a CONNACK must say, where the client can know it. */
  private checkSessionPresent(conn: Conn, present: boolean): void {
    const p = this.profile;
    const what = `${this.id}: CONNACK session present=${present}`;
    if (conn.cleanStart) {
      this.ctx.checker.check(!present, () => `${what} after a clean start`);
      return;
    }
    if (this.uncertain) return;
    const offlineMs = this.sessionLive ? this.ctx.nowMs() - this.offlineSinceMs : 0;
    const expiryMs = p.expiryMs;
    if (!this.sessionLive) {
      this.ctx.checker.check(!present, () => `${what}, but no session was left behind`);
    } else if (offlineMs < expiryMs - 500) {
      this.ctx.checker.check(present, () => `${what} after ${offlineMs} ms offline of ${expiryMs}`);
    } else if (offlineMs > expiryMs + 500) {
      this.ctx.checker.check(
        !present,
        () => `${what} after ${offlineMs} ms offline of ${expiryMs}`,
      );
    }
  }

  private onPublish(conn: Conn, packet: PublishPacket): void {
    const { checker } = this.ctx;
    const payload = packet.payload.toString();
    const id = packet.packetId ?? 0;
    this.log(
      `got ${packet.topic} q${packet.qos}${packet.dup ? " dup" : ""}` +
        `${packet.retain ? " retain" : ""} id=${id} "${payload}"`,
    );
    if (!conn.connacked) checker.fail(`${this.id}: PUBLISH before CONNACK`);
    let fresh = true;
    if (packet.qos > 0) {
      const inUse = conn.unacked.has(id) || this.inboundQos2.has(id);
      // [MQTT-2.2.1-3] a new PUBLISH takes an identifier that is not in use.
      checker.check(
        !inUse || packet.dup,
        () => `${this.id}: packet id ${id} reused while in flight`,
      );
      conn.unacked.add(id);
      this.checkWindow(conn);
    }
    if (packet.qos === 2) {
      fresh = !this.inboundQos2.has(id);
      this.inboundQos2.add(id);
    }
    const qos = packet.qos;
    checker.onReceived(this.id, this.generation, { ...packet, payload }, fresh);
    if (qos === 1) this.acknowledge(conn, { type: "puback", packetId: id, reasonCode: 0 });
    if (qos === 2) this.acknowledge(conn, { type: "pubrec", packetId: id, reasonCode: 0 });
  }

  /** Receive Maximum (v5) or the broker's inflight limit (v3) bounds what is unacknowledged. */
  private checkWindow(conn: Conn): void {
    const p = this.profile.p;
    const window =
      p.version === 5 ? Math.min(p.receiveMax, this.ctx.inflightMax) : this.ctx.inflightMax;
    this.ctx.checker.check(
      conn.unacked.size <= window,
      () => `${this.id}: ${conn.unacked.size} unacknowledged PUBLISH/PUBREL, window ${window}`,
    );
  }

  private onPubrel(conn: Conn, packetId: number): void {
    this.log(`got PUBREL id=${packetId}`);
    this.inboundQos2.delete(packetId);
    conn.unacked.add(packetId);
    this.checkWindow(conn);
    this.acknowledge(conn, { type: "pubcomp", packetId, reasonCode: 0 });
  }

  private onPublishAck(
    conn: Conn,
    type: "puback" | "pubrec" | "pubcomp",
    id: number,
    code: number,
  ) {
    const { checker } = this.ctx;
    const out = this.outgoing.get(id);
    const at = this.log(`got ${type.toUpperCase()} id=${id} code=${code}`);
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
      if (type === "pubrec" && out?.released === true) return;
      checker.fail(`${this.id}: ${type} for id ${id}, expected ${expected}`);
      return;
    }
    // PUBCOMP 0x92: our PUBREL was resent after the broker had released the id [MQTT-4.3.3].
    const done =
      code < 0x80 || (type === "pubcomp" && code === ReasonCode.PACKET_IDENTIFIER_NOT_FOUND);
    checker.check(done, () => `${this.id}: ${type} of ${out.record.key} with reason ${code}`);
    if (out.record.ackedAt < 0 && type !== "pubcomp") out.record.ackedAt = at;
    if (type === "pubrec") {
      out.released = true;
      this.acknowledge(conn, { type: "pubrel", packetId: id, reasonCode: 0 });
      return;
    }
    this.outgoing.delete(id);
  }

  private onSuback(packetId: number, codes: readonly number[]): void {
    const { checker } = this.ctx;
    const pending = this.pendingSubs.get(packetId);
    this.log(`got SUBACK id=${packetId} ${codes.join(",")}`);
    if (pending === undefined) {
      checker.fail(`${this.id}: SUBACK for unknown id ${packetId}`);
      return;
    }
    const requests = pending.requests;
    this.pendingSubs.delete(packetId);
    checker.check(codes.length === requests.length, () => `${this.id}: SUBACK code count`);
    const at = this.ctx.trace.at;
    requests.forEach((r, i) => {
      const code = codes[i];
      checker.check(code <= r.qos, () => `${this.id}: ${r.topicFilter} granted ${code} > ${r.qos}`);
      if (code >= 0x80) return;
      // A later SUBSCRIBE or UNSUBSCRIBE of the filter, already sent, decides its fate.
      if ((this.lastRequestAt.get(r.topicFilter) ?? 0) > pending.at) return;
      const interval: SubInterval = {
        client: this.id,
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
      checker.intervals.push(interval);
    });
  }

  private onServerDisconnect(code: number): void {
    const arrival = this.arrival as Arrival;
    const silentMs = arrival.atMs - arrival.lastSentMs;
    this.log(`got DISCONNECT ${code} after ${silentMs} ms of silence`);
    const limitMs = this.profile.p.keepAliveS * 1500;
    if (code === ReasonCode.KEEP_ALIVE_TIMEOUT) {
      // [MQTT-3.1.2-22] one and a half keep alive periods of silence, not less.
      this.ctx.checker.check(
        limitMs > 0 && silentMs >= limitMs,
        () => `${this.id}: keep alive timeout after ${silentMs} ms silence (limit ${limitMs})`,
      );
      return;
    }
    this.ctx.checker.fail(`${this.id}: unexpected DISCONNECT ${code}`);
  }

  /** Keep alive is enforced: a silent connection is closed within its limit and a little. */
  checkKeepAlive(nowMs: number, slackMs: number): void {
    const conn = this.conn;
    const limitMs = this.profile.p.keepAliveS * 1500;
    if (conn === null || !conn.connacked || conn.closed || limitMs === 0) return;
    if (conn.socket.serverEnded) return;
    const silentMs = nowMs - conn.lastSentMs;
    this.ctx.checker.check(
      silentMs <= limitMs + slackMs,
      () => `${this.id}: still connected after ${silentMs} ms of silence (keep alive ${limitMs})`,
    );
  }

  // ---- writing ---------------------------------------------------------------------------

  /** Answers now, later, or never on this connection, as the client's policy says. */
  private acknowledge(conn: Conn, packet: Packet): void {
    const { rng } = this.ctx;
    const p = this.profile.p;
    if (this.draining) {
      this.sendAck(conn, packet);
      return;
    }
    const roll = rng.next();
    if (roll < p.ackNeverChance) {
      conn.withheld.push(packet);
    } else if (roll < p.ackNeverChance + p.ackLateChance) {
      this.lateAcks.push({ dueMs: this.ctx.nowMs() + 50 + rng.below(3000), conn, packet });
    } else {
      this.sendAck(conn, packet);
    }
  }

  private sendAck(conn: Conn, packet: Packet): void {
    if (conn.closed || conn.abandoned) return;
    if (packet.type === "puback" || packet.type === "pubcomp") conn.unacked.delete(packet.packetId);
    this.send(conn, packet);
  }

  private send(conn: Conn, packet: Packet): void {
    if (conn.closed || conn.abandoned) return;
    const bytes = encode(packet, this.profile.p.version);
    const { rng } = this.ctx;
    // Sometimes in pieces, so the broker's parser sees packets cut at any byte.
    const cuts: number[] = [];
    if (bytes.length > 2 && rng.chance(0.15)) cuts.push(1 + rng.below(bytes.length - 1));
    if (conn.socket.send(bytes, cuts)) conn.lastSentMs = this.ctx.nowMs();
  }

  private allocatePacketId(): number {
    for (let i = 0; i < 65535; i++) {
      const id = this.nextPacketId;
      this.nextPacketId = id === 65535 ? 1 : id + 1;
      if (!this.outgoing.has(id) && !this.pendingSubs.has(id) && !this.pendingUnsubs.has(id)) {
        return id;
      }
    }
    throw new Error("no free packet id");
  }

  // ---- sessions --------------------------------------------------------------------------

  private newGeneration(why: string): void {
    const at = this.ctx.trace.at;
    for (const interval of this.subscriptions.values()) interval.endedAt = at;
    this.subscriptions.clear();
    this.generation++;
    this.log(`generation ${this.generation} (${why})`);
  }

  private endInterval(filter: string, why: string): void {
    const interval = this.subscriptions.get(filter);
    if (interval === undefined) return;
    interval.endedAt = this.ctx.trace.at;
    this.subscriptions.delete(filter);
    this.log(`${filter} no longer counted on (${why})`);
  }

  /** Every socket this client has, for teardown. */
  sockets(): SimSocket[] {
    const all = this.old.map((c) => c.socket);
    if (this.conn !== null) all.push(this.conn.socket);
    return all;
  }
}

/** Derived facts about a profile. */
class ProfileView {
  readonly p: ClientProfile;

  constructor(p: ClientProfile) {
    this.p = p;
  }

  /** How long the broker keeps it (v3 persistent sessions: the broker's maximum, a week). */
  get expiryMs(): number {
    return this.p.version === 4 ? 604_800_000 : this.p.expiryS * 1000;
  }
}

function request(filter: string, qos: QoS, noLocal: boolean, retainHandling: number) {
  return {
    topicFilter: filter,
    qos,
    noLocal,
    retainAsPublished: false,
    retainHandling: retainHandling as 0 | 1 | 2,
  };
}

/** `$share/{group}/{filter}` -> `{filter}`. */
export function matchFilterOf(filter: string): string {
  if (!filter.startsWith("$share/")) return filter;
  return filter.slice(filter.indexOf("/", "$share/".length) + 1);
}

function publishPacket(record: PublishRecord, packetId: number | undefined, dup: boolean): Packet {
  return {
    type: "publish",
    topic: record.topic,
    payload: Buffer.from(record.empty ? "" : record.key),
    qos: record.qos,
    retain: record.retain,
    dup,
    packetId,
  };
}

export function pick<T>(rng: Prng, items: readonly T[]): T {
  return items[rng.below(items.length)];
}
