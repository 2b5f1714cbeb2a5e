/**
 * A simulated MQTT client: the project's encoder and parser over a SimSocket, with the client
 * half of the protocol (packet identifiers, QoS 1/2 flows in both directions, resend on resume,
 * keep alive) and a seeded policy for when it acknowledges: at once, later, or never on this
 * connection. Everything it reads goes to the Checker; what it can check alone (packet
 * identifiers in use, receive maximum, session present, keep alive) it checks itself.
 */
import {
  type ConnackPacket,
  encode,
  type Packet,
  type PublishPacket,
  ReasonCode,
  type SubscriptionRequest,
} from "../../../../../src/protocol/mqtt/index.ts";
import { ClientBook } from "./sim-book.ts";
import { type Arrival, type Conn, newConn } from "./sim-conn.ts";
import { keyOfPayload, type PublishRecord, type QoS, type SubInterval } from "./sim-model.ts";
import {
  type ClientProfile,
  connectionReceiveMax,
  connectPacket,
  DIRECT_FILTERS,
  DIRECT_TOPICS,
  matchFilterOf,
  ProfileView,
  pick,
  publishPacket,
  request,
  SHARED_TOPICS,
  type SimContext,
} from "./sim-profile.ts";
import { checkExpiry, checkSubscriptionIds, resolveTopic } from "./sim-receive.ts";
import type { SimSocket, SocketPeer, WriteStamp } from "./sim-socket.ts";
import type { WillEnd } from "./sim-wills.ts";

export type { ClientProfile, SimContext } from "./sim-profile.ts";
export { pick } from "./sim-profile.ts";

/** Sampling granularity of the broker's flow-control state (see World.sampleFlow). */
const PAUSE_SLACK_MS = 400;
/** The simulation's clock step (World's WHEEL_STEP_MS). */
const STEP_MS = 100;

/** An alias value no test uses, replaced by 0 in the encoded bytes. */
const ALIAS_ZERO_MARK = 0xa1a5;

export class SimClient implements SocketPeer {
  readonly profile: ProfileView;
  private readonly ctx: SimContext;
  conn: Conn | null = null;
  private readonly old: Conn[] = [];
  private connCount = 0;
  /** A CONNECT went out whose CONNACK was never read: the session may be new. */
  private uncertain = false;
  /** The broker holds a session for us (as far as we know), and since when it is offline. */
  private sessionLive = false;
  /** Whether the last DISCONNECT ended the session (expiry 0), and if the broker was reading. */
  private disconnectEnded: "no" | "read" | "unread" = "no";
  /** Session Expiry Interval of the session it has (v5 DISCONNECT may change it). */
  private sessionExpiryMs = 0;
  /** The CONNECT of the current connection, for the will model. */
  private connectRecord: { present: boolean | null } | null = null;
  private offlineSinceMs = 0;
  /** The socket it left the broker by (offlineSinceMs). */
  private offlineSocket: SimSocket | null = null;
  /**
   * When the CONNECT of the current connection went out and how the session was left before
   * it: its CONNACK may be read much later, after the connection ended too.
   */
  private connectSent = {
    atMs: 0,
    offlineSinceMs: 0,
    offlineEarliestMs: 0,
    left: null as SimSocket | null,
  };
  /** The earliest the session may have gone offline (offlineSinceMs, or a keep alive cut). */
  private offlineEarliestMs = 0;
  /** The session side: packet ids, unfinished flows, subscriptions counted on. */
  readonly book: ClientBook;
  private readonly lateAcks: Array<{ dueMs: number; conn: Conn; packet: Packet }> = [];
  /** Sends nothing (no PINGREQ either) until then: lets keep alive expire. */
  stallUntilMs = 0;
  /** Reads nothing until then: its receive buffer fills, the broker's writes back up. */
  readStallUntilMs = 0;
  draining = false;
  /** The bytes being parsed. */
  private arrival: Arrival | null = null;

  constructor(profile: ClientProfile, ctx: SimContext) {
    this.profile = new ProfileView(profile);
    this.ctx = ctx;
    this.book = new ClientBook(profile.id, ctx.trace, ctx.checker, (text) => this.log(text));
  }

  /** Session generation (see ClientBook). */
  get generation(): number {
    return this.book.generation;
  }

  /** Confirmed subscriptions by filter. */
  get subscriptions(): ReadonlyMap<string, SubInterval> {
    return this.book.subscriptions;
  }

  get id(): string {
    return this.profile.p.id;
  }

  /** Connected and usable: CONNACK read, not closed, not waiting to be thrown out. */
  get online(): boolean {
    return this.conn?.connacked === true && this.conn.expectedDisconnect === null && this.attached;
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

  stampWrite(socket: SimSocket): WriteStamp {
    const conn = this.connOf(socket);
    const held = this.ctx.heldByBroker(socket);
    return { atMs: this.ctx.nowMs(), lastSentMs: conn?.lastSentMs ?? 0, held };
  }

  onServerBytes(socket: SimSocket, chunk: Buffer, stamp: WriteStamp | undefined): void {
    const conn = this.connOf(socket);
    if (conn === undefined) return;
    const now = { atMs: this.ctx.nowMs(), lastSentMs: conn.lastSentMs, held: false };
    const { atMs, lastSentMs, held } = stamp ?? now;
    conn.inbox.push({ bytes: chunk, atMs, lastSentMs, held });
  }

  onServerEnd(socket: SimSocket): void {
    const conn = this.connOf(socket);
    if (conn === undefined) return;
    conn.inbox.push(null);
    this.onServerClosing(socket);
  }

  onServerClosing(socket: SimSocket): void {
    const conn = this.connOf(socket);
    if (conn === undefined || conn.serverClosing) return;
    conn.serverClosing = true;
    this.willEnded(conn, "abnormal");
    if (conn === this.conn && !conn.closed) this.wentOffline();
  }

  /** The connection ended: its will is due or gone (the first end reported counts). */
  private willEnded(conn: Conn, end: WillEnd): void {
    if (conn.willPayload === "") return;
    const expiryMs = conn.connacked ? this.sessionExpiryMs : this.expiryOf(conn);
    this.ctx.wills.ended(conn.willPayload, end, this.ctx.nowMs(), expiryMs);
  }

  private connOf(socket: SimSocket): Conn | undefined {
    if (this.conn?.socket === socket) return this.conn;
    return this.old.find((c) => c.socket === socket);
  }

  private wentOffline(): void {
    this.offlineSinceMs = this.ctx.nowMs();
    this.offlineSocket = this.conn?.socket ?? null;
    this.offlineEarliestMs = this.conn === null ? this.offlineSinceMs : this.earliestEnd(this.conn);
  }

  /**
   * The earliest the broker may have ended `conn`: now, or earlier if the client was silent
   * longer than one and a half keep alive periods [MQTT-3.1.2-22] (it may not know yet).
   */
  private earliestEnd(conn: Conn): number {
    const now = this.ctx.nowMs();
    return Math.min(now, conn.keepAliveCutAtMs, this.keepAliveCut(conn, now));
  }

  /** When the broker may have cut `conn` for its silence up to `now`; Infinity if it may not. */
  private keepAliveCut(conn: Conn, now: number): number {
    const limitMs = this.profile.p.keepAliveS * 1500;
    const silent = limitMs > 0 && now - conn.lastSentMs > limitMs;
    return silent ? conn.lastSentMs + limitMs : Number.POSITIVE_INFINITY;
  }

  /** A packet went out on `conn`. */
  private sentNow(conn: Conn): void {
    const now = this.ctx.nowMs();
    conn.keepAliveCutAtMs = Math.min(conn.keepAliveCutAtMs, this.keepAliveCut(conn, now));
    conn.lastSentMs = now;
  }

  // ---- actions ---------------------------------------------------------------------------

  /** CONNECT on a new connection; an open one is abandoned (the broker sees a takeover). */
  connect(cleanStart: boolean): void {
    const p = this.profile.p;
    const last = this.conn;
    // A session that ended with its connection (expiry 0 from the CONNECT, as a v3 clean
    // session, or set by the last DISCONNECT) leaves the client no state [MQTT-3.1.2-6], even
    // if a CONNECT that went unanswered since made a session the broker will call present.
    // Kept until now: a closing connection's last acknowledgements count.
    if (last?.connacked && (this.expiryOf(last) === 0 || this.disconnectEnded !== "no")) {
      this.book.discardSessionState();
    }
    // Offline for longer than its expiry, the session has expired (unless the broker was not
    // reading the socket it was left by, and so may have seen the end late): no state either.
    const leftBy = this.offlineSocket;
    const expired =
      this.sessionLive &&
      !this.attached &&
      this.ctx.nowMs() - this.offlineSinceMs > this.sessionExpiryMs + 500 &&
      (leftBy === null || leftBy.pausedAtMs < this.offlineSinceMs - PAUSE_SLACK_MS);
    if (expired) this.book.discardSessionState();
    // A DISCONNECT the broker was not reading (flow control) may never be read: a takeover
    // may come first, and the session live on. Without state, the client starts clean rather
    // than take a present session it cannot tell from a stale one [MQTT-3.2.2-4].
    if (this.disconnectEnded === "unread") cleanStart = true;
    this.disconnectEnded = "no";
    if (last !== null) this.abandon("for a new connection");
    if (p.version === 4 && p.expiryS === 0) cleanStart = true;
    this.connCount++;
    const label = `${p.id}#${this.connCount}`;
    const onPacket = (c: Conn, packet: Packet) => this.onPacket(c, packet);
    const willPayload = p.will === null ? "" : `will:${label}`;
    const conn = newConn(
      this,
      this.ctx.socketLimits,
      label,
      this.connCount,
      cleanStart,
      p.version,
      this.ctx.nowMs(),
      willPayload,
      onPacket,
    );
    const socket = conn.socket;
    this.conn = conn;
    if (cleanStart) {
      // A clean start discards the client's half of the session too [MQTT-3.1.2-4].
      this.book.newGeneration("clean start");
      this.book.discardSessionState();
    }
    this.ctx.broker.accept(socket, `sim:${socket.label}`);
    this.log(`CONNECT v${p.version} clean=${cleanStart} expiry=${p.expiryS} ka=${p.keepAliveS}`);
    this.connectRecord = this.ctx.wills.connectSent(
      p.id,
      this.connCount,
      this.ctx.nowMs(),
      cleanStart,
    );
    if (p.will !== null)
      this.ctx.wills.armed(p.id, this.connCount, willPayload, p.version === 5 ? p.will.delayS : 0);
    const left = this.offlineSocket;
    this.connectSent = {
      atMs: this.ctx.nowMs(),
      offlineSinceMs: this.offlineSinceMs,
      offlineEarliestMs: this.offlineEarliestMs,
      left,
    };
    this.send(
      conn,
      connectPacket(p, cleanStart, willPayload, connectionReceiveMax(p, conn.number)),
    );
  }

  /**
   * DISCONNECT and FIN: normal (0x00) or with will (0x04, v5); a v5 client may change its
   * Session Expiry Interval (section 3.14.2.2.2: from 0 to non-zero is a Protocol Error).
   */
  disconnect(): void {
    const conn = this.conn;
    if (conn === null || conn.closed) return;
    const { rng } = this.ctx;
    const v5 = this.profile.p.version === 5;
    const reasonCode = v5 && rng.chance(0.25) ? ReasonCode.DISCONNECT_WITH_WILL : 0;
    const expiryS = v5 && rng.chance(0.3) ? pick(rng, [0, 0, 3, 30]) : -1;
    const invalid = expiryS > 0 && this.sessionExpiryMs === 0;
    this.log(`DISCONNECT ${reasonCode}${expiryS >= 0 ? ` expiry=${expiryS}` : ""}`);
    const properties = expiryS >= 0 ? { sessionExpiryInterval: expiryS } : undefined;
    // The broker closes as if the link broke when the change is invalid.
    if (invalid) this.ctx.expectProtocolError();
    else if (expiryS >= 0 && conn.connacked) this.sessionExpiryMs = expiryS * 1000;
    if (conn.connacked && this.sessionExpiryMs === 0) this.sessionLive = false;
    // Not read now (flow control), it may never be: a takeover or the broker's keep alive may
    // come first. A socket paused a moment ago and resumed may still be behind: the broker
    // resumes parsing what it held back a turn later, and may pause again before reaching
    // this. After a silence past keep alive the broker may have closed the connection
    // already, unseen by a client that is not reading.
    const now = this.ctx.nowMs();
    const mayBeUnread =
      conn.socket.isPaused() ||
      conn.socket.pausedAtMs >= now - PAUSE_SLACK_MS ||
      this.earliestEnd(conn) < now;
    // (A session with expiry 0 from its CONNECT ends with the connection, read or not.)
    if (conn.connacked && this.sessionExpiryMs === 0 && this.expiryOf(conn) > 0 && !invalid) {
      this.disconnectEnded = mayBeUnread ? "unread" : "read";
    }
    // Before the send: the broker may handle it (and close) within the call.
    const end = reasonCode === 0 && !invalid ? "normal" : "abnormal";
    this.willEnded(conn, mayBeUnread ? "unknown" : end);
    this.send(conn, { type: "disconnect", reasonCode, properties });
    conn.socket.clientFin();
    this.closeConn(conn);
  }

  /** The connection breaks: no DISCONNECT, no FIN. */
  reset(): void {
    const conn = this.conn;
    if (conn === null || conn.closed) return;
    this.log("connection reset");
    this.willEnded(conn, "abnormal");
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
    if (!conn.closed && !conn.socket.serverEnded) {
      this.offlineSinceMs = this.ctx.nowMs();
      this.offlineSocket = conn.socket;
      this.offlineEarliestMs = this.earliestEnd(conn);
    }
    if (!conn.closed) this.log(`abandons its connection ${why}`);
    this.willEnded(conn, "abnormal"); // taken over by its own new connection
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
    const subId = p.subIds && rng.chance(0.7) ? 1 + rng.below(5) : 0;
    const packetId = this.book.allocatePacketId();
    for (const r of requests) {
      if (subId !== 0) {
        const filters = this.book.requestedIds.get(subId) ?? new Set<string>();
        filters.add(matchFilterOf(r.topicFilter));
        this.book.requestedIds.set(subId, filters);
      }
      this.ctx.checker.onRequested(this.id, matchFilterOf(r.topicFilter), r.qos);
      this.book.endInterval(r.topicFilter, "resubscribed");
    }
    const text = requests.map((r) => `${r.topicFilter}@q${r.qos}${r.noLocal ? " nl" : ""}`);
    const at = this.log(`SUBSCRIBE id=${packetId} ${text.join(", ")}`);
    for (const r of requests) this.book.lastRequestAt.set(r.topicFilter, at);
    this.book.pendingSubs.set(packetId, { requests, at, subId });
    this.book.lastSubChangeAt = at;
    const properties = subId !== 0 ? { subscriptionIdentifiers: [subId] } : undefined;
    this.send(conn, { type: "subscribe", packetId, subscriptions: requests, properties });
  }

  unsubscribe(): void {
    const conn = this.conn;
    if (conn === null || !this.online || this.book.subscriptions.size === 0) return;
    const filters = [...this.book.subscriptions.keys()];
    const filter = filters[this.ctx.rng.below(filters.length)];
    this.book.endInterval(filter, "unsubscribed");
    const packetId = this.book.allocatePacketId();
    this.book.pendingUnsubs.add(packetId);
    const at = this.log(`UNSUBSCRIBE id=${packetId} ${filter}`);
    this.book.lastRequestAt.set(filter, at);
    this.book.lastSubChangeAt = at;
    this.send(conn, { type: "unsubscribe", packetId, topicFilters: [filter] });
  }

  /** A PUBLISH on a random topic; skipped while 8 of its own are unfinished. */
  publish(): void {
    const conn = this.conn;
    if (conn === null || !this.online || this.book.outgoing.size >= 8) return;
    const { rng, checker } = this.ctx;
    const shared = rng.chance(0.3);
    const topic = shared ? pick(rng, SHARED_TOPICS) : pick(rng, DIRECT_TOPICS);
    const qos = rng.below(3) as QoS;
    const retain = rng.chance(0.15);
    const empty = retain && rng.chance(0.2);
    const seq = this.book.nextSeq++;
    const key = `${this.id}/${seq}`;
    const p = this.profile.p;
    const expiryS = rng.chance(p.expiryChance) ? 1 + rng.below(4) : 0;
    const pad = this.ctx.padding;
    const padded = (p.version === 5 || pad.anyVersion) && rng.chance(pad.chance);
    const padBytes = padded ? 30 + rng.below(pad.maxBytes) : 0;
    const extra = `${expiryS > 0 ? ` expiry=${expiryS}` : ""}${padBytes > 0 ? ` pad=${padBytes}` : ""}`;
    const at = this.log(
      `PUBLISH ${topic} q${qos}${retain ? " retain" : ""}${extra} "${empty ? "" : key}"`,
    );
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
      sentAtMs: this.ctx.nowMs(),
      ackedAtMs: -1,
      expiryS,
      padBytes,
      resent: false,
      mayRepeat: false,
    };
    checker.onPublishSent(record);
    const packetId = qos === 0 ? undefined : this.book.allocatePacketId();
    if (packetId !== undefined)
      this.book.outgoing.set(packetId, { record, packetId, released: false });
    this.send(conn, this.aliased(conn, record, packetId, false));
  }

  /** Its PUBLISH, with a topic alias when it uses them [MQTT-3.3.2-9: within the maximum]. */
  private aliased(conn: Conn, record: PublishRecord, packetId: number | undefined, dup: boolean) {
    const max = Math.min(conn.serverAliasMax, 4);
    if (!this.profile.p.aliasesOut || max === 0) return publishPacket(record, packetId, dup);
    const { rng } = this.ctx;
    const known = conn.outAliases.get(record.topic);
    if (known !== undefined) return publishPacket(record, packetId, dup, known, rng.chance(0.8));
    if (conn.outAliases.size >= max && !rng.chance(0.3))
      return publishPacket(record, packetId, dup);
    // A new alias, or one taken over from another topic (it then means this one).
    const alias = conn.outAliases.size < max ? conn.outAliases.size + 1 : 1 + rng.below(max);
    for (const [topic, a] of conn.outAliases) if (a === alias) conn.outAliases.delete(topic);
    conn.outAliases.set(record.topic, alias);
    return publishPacket(record, packetId, dup, alias, false);
  }

  /**
   * A PUBLISH with an invalid topic alias: 0 [MQTT-3.3.2-8], above the broker's maximum
   * [MQTT-3.3.2-9], or one never set on this connection. The broker must close the
   * connection (DISCONNECT 0x94 Topic Alias invalid, or 0x82 Protocol Error) and not route it.
   */
  badAlias(): void {
    const conn = this.conn;
    if (conn === null || !this.online || this.profile.p.version !== 5) return;
    const { rng } = this.ctx;
    const kind = rng.below(3);
    const unset = [1, 2, 3, 4, 5].find((a) => ![...conn.outAliases.values()].includes(a)) ?? 6;
    const alias = kind === 0 ? 0 : kind === 1 ? conn.serverAliasMax + 1 : unset;
    if ((kind === 2 && alias > conn.serverAliasMax) || alias > 0xffff) return;
    this.log(`PUBLISH with invalid topic alias ${alias} (${["zero", "above max", "unset"][kind]})`);
    conn.expectedDisconnect = [ReasonCode.TOPIC_ALIAS_INVALID, ReasonCode.PROTOCOL_ERROR];
    this.ctx.expectProtocolError();
    const packet: Packet = {
      type: "publish",
      topic: kind === 2 ? "" : "t/a",
      payload: Buffer.from("invalid-alias"),
      qos: 0,
      retain: false,
      dup: false,
      properties: { topicAlias: alias === 0 ? ALIAS_ZERO_MARK : alias },
    };
    const bytes = encode(packet, 5);
    // The encoder refuses alias 0: encoded with a mark, then patched (property 0x23, uint16).
    const at = bytes.indexOf(Buffer.from([0x23, ALIAS_ZERO_MARK >> 8, ALIAS_ZERO_MARK & 0xff]));
    if (alias === 0) bytes.writeUInt16BE(0, at + 1);
    if (conn.socket.send(bytes)) this.sentNow(conn);
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
    if (this.ctx.nowMs() < this.readStallUntilMs && !this.draining) return false;
    let progressed = false;
    for (const conn of this.old) progressed = this.readConn(conn) || progressed;
    this.old.splice(0, this.old.length, ...this.old.filter((c) => !c.closed));
    if (this.conn !== null) progressed = this.readConn(this.conn) || progressed;
    return progressed;
  }

  private readConn(conn: Conn): boolean {
    if (conn.inbox.length === 0) return false;
    const chunks = conn.inbox.splice(0);
    // Read out of the receive buffer: a write the broker was kept waiting on is taken now.
    conn.socket.consumed();
    for (const chunk of chunks) {
      if (chunk === null) {
        this.onEnd(conn);
        break;
      }
      if (conn.closed || conn.abandoned) continue; // read and thrown away
      this.arrival = chunk;
      const max = this.profile.p.maxPacketBytes;
      for (const size of conn.meter.push(chunk.bytes)) {
        // [MQTT-3.1.2-24] never a packet above the client's Maximum Packet Size.
        if (max > 0 && size > max)
          this.ctx.checker.fail(`${this.id}: ${size}-byte packet, max ${max}`);
      }
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
        this.onConnack(conn, packet);
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
        this.book.onSuback(packet.packetId, packet.reasonCodes);
        return;
      case "unsuback":
        // The broker may read an UNSUBSCRIBE late (flow control): its match changed by now.
        this.book.lastSubChangeAt = this.ctx.trace.at;
        this.ctx.checker.check(this.book.pendingUnsubs.delete(packet.packetId), () => {
          return `${this.id}: UNSUBACK for unknown id ${packet.packetId}`;
        });
        return;
      case "pingresp":
        return;
      case "disconnect":
        this.onServerDisconnect(conn, packet.reasonCode);
        return;
      default:
        this.ctx.checker.fail(`${this.id}: unexpected ${packet.type} from the broker`);
    }
  }

  private onConnack(conn: Conn, packet: ConnackPacket): void {
    const { sessionPresent: present, reasonCode: code } = packet;
    const { checker } = this.ctx;
    this.log(`CONNACK present=${present} code=${code}`);
    if (code !== 0) {
      checker.fail(`${this.id}: CONNECT refused with ${code}`);
      return;
    }
    checker.check(!conn.connacked, () => `${this.id}: second CONNACK`);
    conn.connacked = true;
    this.checkSessionPresent(conn, present);
    if (this.connectRecord !== null) this.connectRecord.present = present;
    conn.serverAliasMax = packet.properties?.topicAliasMaximum ?? 0;
    this.sessionExpiryMs = this.expiryOf(conn);
    if (!present) {
      this.book.newGeneration("no session present");
      this.book.discardSessionState();
    }
    const unsure = present && this.uncertain;
    if (unsure) {
      this.book.newGeneration("session present after an unanswered CONNECT");
      // It kept subscriptions the client no longer counts on: which ones match is unknown.
      this.book.subsUnknown = true;
    }
    this.uncertain = false;
    // v3 clean session: the session ends with the connection [MQTT-3.1.2-6].
    this.sessionLive = this.sessionExpiryMs > 0;
    this.book.forgetPending();
    // [MQTT-4.4.0-1] resend what is unfinished, in the original order.
    for (const out of this.book.outgoing.values()) {
      if (out.released) this.send(conn, { type: "pubrel", packetId: out.packetId, reasonCode: 0 });
      else {
        out.record.resent = true;
        if (unsure) out.record.mayRepeat = true;
        this.send(conn, this.aliased(conn, out.record, out.packetId, true));
      }
    }
  }

  /** Session Expiry Interval a connection asks for (v3: a week unless clean session). */
  private expiryOf(conn: Conn): number {
    if (this.profile.p.version === 5) return this.profile.p.expiryS * 1000;
    return conn.cleanStart ? 0 : this.profile.expiryMs;
  }

  /** [MQTT-3.2.2-1..3] What a CONNACK must say, where the client can know it. */
  private checkSessionPresent(conn: Conn, present: boolean): void {
    const what = `${this.id}: CONNACK session present=${present}`;
    if (conn.cleanStart) {
      this.ctx.checker.check(!present, () => `${what} after a clean start`);
      return;
    }
    if (this.uncertain) return;
    // Left while the broker was not reading that socket (flow control): it read the
    // DISCONNECT or FIN later, or never (a takeover came first), so the session went offline
    // later than the client knows, and a DISCONNECT's new expiry may not have been seen.
    const { atMs, offlineSinceMs, offlineEarliestMs, left } = this.connectSent;
    if (left !== null && left.pausedAtMs >= offlineSinceMs - PAUSE_SLACK_MS) return;
    const offlineMs = this.sessionLive ? atMs - offlineSinceMs : 0;
    // A silence past keep alive may have ended the connection before the client left it.
    const offlineMostMs = this.sessionLive ? atMs - offlineEarliestMs : 0;
    const expiryMs = this.sessionExpiryMs;
    if (!this.sessionLive) {
      this.ctx.checker.check(!present, () => `${what}, but no session was left behind`);
    } else if (offlineMostMs < expiryMs - 500) {
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
      const inUse = conn.unacked.has(id) || this.book.inboundQos2.has(id);
      // [MQTT-2.2.1-3] a new PUBLISH takes an identifier that is not in use.
      checker.check(
        !inUse || packet.dup,
        () => `${this.id}: packet id ${id} reused while in flight`,
      );
      conn.unacked.add(id);
      this.checkWindow(conn);
    }
    if (packet.qos === 2) {
      fresh = !this.book.inboundQos2.has(id);
      this.book.inboundQos2.add(id);
    }
    const qos = packet.qos;
    const topic = resolveTopic(conn, packet, this.profile.p, checker);
    if (topic === null) return;
    const record = checker.publishes.get(keyOfPayload(payload));
    const v5 = this.profile.p.version === 5;
    const held = record !== undefined && conn.socket.pausedAtMs >= record.sentAtMs;
    if (record !== undefined)
      checkExpiry(this.id, v5, record, packet, this.arrival as Arrival, checker, held);
    checkSubscriptionIds(this.id, this.book, record, packet, topic, checker);
    checker.onReceived(this.id, this.book.generation, { ...packet, topic, payload }, fresh);
    if (qos === 1) this.acknowledge(conn, { type: "puback", packetId: id, reasonCode: 0 });
    if (qos === 2) this.acknowledge(conn, { type: "pubrec", packetId: id, reasonCode: 0 });
  }

  /**
   * Receive Maximum (v5) or the broker's inflight limit (v3) bounds what is unacknowledged when
   * a PUBLISH arrives (a PUBREL'd message holds its slot until PUBCOMP). Checked on PUBLISH
   * only: the PUBRELs resent when a session resumes all come at once, whatever the window of
   * the new connection, as the send quota limits PUBLISHes only [MQTT-4.9.0-3].
   */
  private checkWindow(conn: Conn): void {
    const p = this.profile.p;
    const receiveMax = connectionReceiveMax(p, conn.number);
    const window =
      p.version === 5 ? Math.min(receiveMax, this.ctx.inflightMax) : this.ctx.inflightMax;
    this.ctx.checker.check(
      conn.unacked.size <= window,
      () => `${this.id}: ${conn.unacked.size} unacknowledged PUBLISH/PUBREL, window ${window}`,
    );
  }

  private onPubrel(conn: Conn, packetId: number): void {
    this.log(`got PUBREL id=${packetId}`);
    this.book.inboundQos2.delete(packetId);
    conn.unacked.add(packetId);
    this.acknowledge(conn, { type: "pubcomp", packetId, reasonCode: 0 });
  }

  private onPublishAck(
    conn: Conn,
    type: "puback" | "pubrec" | "pubcomp",
    id: number,
    code: number,
  ): void {
    const at = this.log(`got ${type.toUpperCase()} id=${id} code=${code}`);
    const next = this.book.onPublishAck(type, id, code, at, this.ctx.nowMs());
    if (next === "next") this.acknowledge(conn, { type: "pubrel", packetId: id, reasonCode: 0 });
  }

  private onServerDisconnect(conn: Conn, code: number): void {
    const arrival = this.arrival as Arrival;
    if (conn.expectedDisconnect !== null && code !== ReasonCode.KEEP_ALIVE_TIMEOUT) {
      this.log(`got DISCONNECT ${code}, as expected`);
      this.ctx.checker.check(
        conn.expectedDisconnect.includes(code),
        () => `${this.id}: DISCONNECT ${code}, expected one of ${conn.expectedDisconnect}`,
      );
      return;
    }
    const silentMs = arrival.atMs - arrival.lastSentMs;
    this.log(`got DISCONNECT ${code} after ${silentMs} ms of silence`);
    const limitMs = this.profile.p.keepAliveS * 1500;
    if (code === ReasonCode.KEEP_ALIVE_TIMEOUT) {
      // [MQTT-3.1.2-22] one and a half keep alive periods of silence, not less; but a client
      // that leaves its socket full is not read (FlowControl.pauseSelf), and then not heard.
      // Held back by the broker for its subscribers or a rate it is not cut off (heldByUs).
      const selfPaused = conn.socket.overLimitAtMs >= arrival.atMs - limitMs - PAUSE_SLACK_MS;
      // Released in the same clock step (mocked timers run the flow-control wait and the
      // deadline wheel back to back, before the resumed stream is read): its bytes wait unread.
      const justReleased = !arrival.held && conn.socket.pausedAtMs >= arrival.atMs - STEP_MS;
      this.ctx.checker.check(
        !arrival.held,
        () => `${this.id}: cut off for keep alive while the broker held it back (heldByUs)`,
      );
      this.ctx.checker.check(
        limitMs > 0 && (silentMs >= limitMs || selfPaused || justReleased),
        () =>
          `${this.id}: keep alive timeout after ${silentMs} ms silence (limit ${limitMs}), ` +
          `socket last over the write limit at ${conn.socket.overLimitAtMs - arrival.atMs} ms`,
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
    if (conn.socket.serverEnded || conn.socket.writableEnded) return;
    // Not read by the broker since its last bytes (flow control): it has not heard them, and
    // while it holds the client back for others the keep-alive clock starts again.
    if (conn.socket.pausedAtMs >= conn.lastSentMs) return;
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
    if (conn.socket.send(bytes, cuts)) this.sentNow(conn);
  }

  /** Every socket this client has, for teardown. */
  sockets(): SimSocket[] {
    const all = this.old.map((c) => c.socket);
    if (this.conn !== null) all.push(this.conn.socket);
    return all;
  }
}
