import type { Duplex } from "node:stream";
import {
  CONNECTION_HEADROOM_COUNT,
  SHUTDOWN_TIMEOUT_MS,
  TIMER_DELAY_MS_MAX,
} from "../../config/limits.ts";
import type { Config } from "../../config/schema.ts";
import type { Logger } from "../../log/logger.ts";
import { type QoS, ReasonCode } from "../../protocol/mqtt/constants.ts";
import type { Will } from "../../protocol/mqtt/packets.ts";
import type { Security } from "../../security/security.ts";
import type { Alarms } from "./alarms.ts";
import type { EnhancedAuthenticator } from "./auth.ts";
import { CONNECTION_LOST, ConnectionState, MqttConnection } from "./connection.ts";
import type { DelayedPublisher } from "./delayed/publisher.ts";
import { DisconnectCounts, disconnectReason } from "./disconnect-reasons.ts";
import { ExclusiveClaims } from "./exclusive.ts";
import { Message } from "./message.ts";
import type { MqttPersistence } from "./persistence/persistence.ts";
import { TokenBucket } from "./rate-limit.ts";
import { RetainedStore } from "./retained.ts";
import { Router, type SharedGroup } from "./router.ts";
import type { AutoSubscribe } from "./rules/auto-subscriber.ts";
import type { TopicRewrite } from "./rules/topic-rewrite.ts";
import type { SchemaValidation } from "./schema-validation.ts";
import { type Delivery, newDelivery, Session } from "./session.ts";
import type { SlowSubs } from "./slow-subs.ts";
import { BrokerStats } from "./stats.ts";
import type { ClientEvent, SysTopics } from "./sys-topics.ts";

export interface BrokerOptions {
  /** Enhanced authentication methods (AUTH packet flows), by method name. */
  authenticators?: EnhancedAuthenticator[];
}

/**
 * The MQTT broker of one node: sessions, routing, retained messages, wills and session expiry.
 * Connections call into it; it never touches sockets itself except through MqttConnection.
 */
export class MqttBroker {
  readonly config: Config;
  readonly logger: Logger;
  readonly stats = new BrokerStats();
  readonly disconnectCounts = new DisconnectCounts();
  readonly sessions = new Map<string, Session>();
  /** `$exclusive/` subscriptions: which session holds each filter (exclusive.ts). */
  readonly exclusive = new ExclusiveClaims((s) => this.sessions.get(s.clientId) === s);
  readonly connections = new Set<MqttConnection>();
  readonly retained = new RetainedStore<Message>();
  readonly router: Router;
  readonly authenticators: Map<string, EnhancedAuthenticator>;
  private readonly expiryTimers = new Map<Session, NodeJS.Timeout>();
  /** Earliest expiry among retained messages (ms since epoch; 0 = none); may be stale-early. */
  private retainedExpiryMinMs = 0;
  private readonly willTimers = new Map<Session, { will: Will; timer: NodeJS.Timeout }>();
  private readonly pendingFlush: MqttConnection[] = [];
  private readonly flushBound = () => this.flush();
  private shuttingDown = false;
  /** The connection whose PUBLISH is being routed, for flow control; null otherwise. */
  private publisher: MqttConnection | null = null;
  /** Durable state on disk; null when mqtt_persistence is off. */
  persistence: MqttPersistence | null = null;
  /** The MQTT -> Kafka bridge (src/bridge/): appends a message, null if no rule matches. */
  forwardToKafka: ((message: Message) => Promise<unknown> | null) | null = null;
  /**
   * The bridge's check that its Kafka topics take the message (not over their size limit),
   * made before a client's message is routed or acknowledged; null without MQTT -> Kafka rules.
   */
  kafkaRefuses: ((message: Message) => boolean) | null = null;
  /** Set while routing when a persistent session takes a QoS 1/2 delivery of the message. */
  private routeNeedsLog = false;
  /** Persistent sessions that took it through a shared subscription: [clientId, filter]. */
  private routeShares: Array<[string, string]> | null = null;
  /** Persistent sessions that took it, to take it back if it cannot be stored. */
  private routeSessions: Session[] | null = null;
  /** `$SYS` state and client events; null when mqtt_sys is off. */
  sys: SysTopics | null = null;
  /** Bans, authentication and ACL (src/security/); null = everyone may do anything. */
  security: Security | null = null;
  /** `$delayed/{seconds}/{topic}` (src/broker/mqtt/delayed/); null when mqtt_delayed is off. */
  delayed: DelayedPublisher | null = null;
  /** Slow-subscription statistics (slow-subs.ts); null when mqtt_slow_subs is off. */
  slowSubs: SlowSubs | null = null;
  /** Memory and CPU alarms (alarms.ts); null when mqtt_alarms is off. */
  alarms: Alarms | null = null;
  /** Payload JSON Schema rules (schema-validation.ts); null when there are none. */
  schemaValidation: SchemaValidation | null = null;
  /** Topic rewrite rules (rules/topic-rewrite.ts); null on a node without them. */
  topicRewrite: TopicRewrite | null = null;
  /** Auto-subscribe rules (rules/auto-subscriber.ts); null on a node without them. */
  autoSubscribe: AutoSubscribe | null = null;
  /** Queue length at which an online subscriber makes its publishers wait. */
  readonly queueHighWater: number;
  readonly startedAtMs = Date.now();
  /** New connections per second over all listeners; null = unlimited. */
  private readonly connectionRate: TokenBucket | null;
  private rateRefusalLoggedAtMs = 0;
  private rateRefusedSinceLog = 0;

  constructor(config: Config, logger: Logger, options: BrokerOptions = {}) {
    this.config = config;
    this.logger = logger;
    this.router = new Router(
      config.mqtt_limits.shared_subscription_strategy,
      (s, m, q, r, ids, k) => this.deliver(s, m, q, r, ids, k),
    );
    this.queueHighWater = Math.max(1, config.mqtt_limits.max_queued_messages >> 1);
    const connectionRate = config.mqtt_limits.max_connection_rate;
    this.connectionRate = connectionRate > 0 ? new TokenBucket(connectionRate, Date.now()) : null;
    this.authenticators = new Map((options.authenticators ?? []).map((a) => [a.method, a]));
  }

  /** Takes a new client byte stream (TCP socket, TLS socket or WebSocket stream). */
  accept(stream: Duplex, remoteAddress: string): void {
    const limit = this.config.mqtt_limits.max_connections + CONNECTION_HEADROOM_COUNT;
    if (this.shuttingDown || this.connections.size >= limit) {
      this.logger.info({ remote: remoteAddress }, "refusing connection: connection limit");
      this.stats.connectionsRefused++;
      this.stats.connectionsRefusedLimit++;
      stream.destroy();
      return;
    }
    const nowMs = Date.now();
    if (this.connectionRate !== null && !this.connectionRate.tryTake(1, nowMs)) {
      // A flood is logged once a second with its count, not once per socket.
      this.stats.connectionsRefused++;
      this.stats.connectionsRefusedRate++;
      this.rateRefusedSinceLog++;
      if (nowMs - this.rateRefusalLoggedAtMs >= 1000) {
        this.logger.warn(
          { remote: remoteAddress, refused: this.rateRefusedSinceLog },
          "refusing connections: max_connection_rate reached",
        );
        this.rateRefusalLoggedAtMs = nowMs;
        this.rateRefusedSinceLog = 0;
      }
      stream.destroy();
      return;
    }
    this.connections.add(new MqttConnection(this, stream, remoteAddress));
  }

  /** Sessions with a live connection. */
  connectedClients = 0;

  /** Batches writes: each connection written to in this turn is flushed once, after it. */
  scheduleFlush(conn: MqttConnection): void {
    if (this.pendingFlush.length === 0) process.nextTick(this.flushBound);
    this.pendingFlush.push(conn);
  }

  private flush(): void {
    const list = this.pendingFlush;
    for (let i = 0; i < list.length; i++) list[i].flushOutput();
    list.length = 0;
  }

  // ---- publishing ---------------------------------------------------------------------

  /**
   * Stores a retained message if asked and routes it; returns the number of deliveries.
   * `publisher` is the connection it came from, which backs off if subscribers fall behind.
   */
  publish(message: Message, publisher: MqttConnection | null = null, inboundPacketId = 0): number {
    const stats = this.stats;
    stats.messagesIn++;
    if (this.slowSubs !== null) message.receivedAtMs = Date.now();
    if (message.qos === 0) stats.messagesInQos0++;
    else if (message.qos === 1) stats.messagesInQos1++;
    else stats.messagesInQos2++;
    const retainedChanged = message.retain && this.storeRetained(message);
    this.publisher = publisher;
    this.routeNeedsLog = false;
    this.routeShares = null;
    this.routeSessions = null;
    let count: number;
    try {
      count = this.router.route(message);
    } finally {
      this.publisher = null;
    }
    const persistence = this.persistence;
    if (persistence !== null && (this.routeNeedsLog || retainedChanged || inboundPacketId !== 0)) {
      message.compact();
      const sessions = this.routeSessions ?? [];
      // Awaited by the publisher's acknowledgement, which answers a failure; a message the
      // publisher is told was refused is not delivered later either.
      // A retained message a limit refused is logged for its subscribers, not to be retained.
      const retainRefused = message.retain && message.payload.length > 0 && !retainedChanged;
      persistence
        .storeMessage(message, inboundPacketId, this.routeShares, retainRefused)
        .catch(() => this.withdraw(message, sessions));
      if (retainedChanged) persistence.retainedChanged(message.topic);
    }
    if (this.forwardToKafka !== null) message.bridged = this.forwardToKafka(message);
    return count;
  }

  /** The broker's own `$SYS` messages: routed like any other, not counted as received. */
  publishSys(message: Message): void {
    this.router.route(message);
  }

  /** Stores or deletes the retained message for its topic; true if the store changed. */
  private storeRetained(message: Message): boolean {
    const limits = this.config.mqtt_limits;
    if (message.payload.length === 0) {
      return this.retained.delete(message.topic); // [MQTT-3.3.1-6, -7]
    }
    const tooBig =
      limits.max_retained_payload_bytes > 0 &&
      message.payload.length > limits.max_retained_payload_bytes;
    const replaces = this.retained.get(message.topic) !== undefined;
    const max = limits.max_retained_messages;
    let full = max > 0 && this.retained.size >= max && !replaces;
    // An expired retained message is gone [MQTT-3.3.2-5]: it must not hold a slot.
    if (full && this.purgeExpiredRetained(Date.now())) full = this.retained.size >= max;
    if (tooBig || full) {
      this.stats.retainedRefused++;
      this.logger.debug({ topic: message.topic }, "retained message not stored: limit");
      return false;
    }
    message.compact();
    this.retained.set(message.topic, message); // [MQTT-3.3.1-5]
    const expiresAtMs = message.expiresAtMs;
    if (
      expiresAtMs !== 0 &&
      (this.retainedExpiryMinMs === 0 || expiresAtMs < this.retainedExpiryMinMs)
    ) {
      this.retainedExpiryMinMs = expiresAtMs;
    }
    return true;
  }

  /**
   * Deletes expired retained messages; true if any was deleted. Scans only once the earliest
   * known expiry has passed, so a full store refusing messages does not scan on every publish.
   */
  private purgeExpiredRetained(nowMs: number): boolean {
    if (this.retainedExpiryMinMs === 0 || nowMs < this.retainedExpiryMinMs) return false;
    const expired: string[] = [];
    let nextMs = 0;
    for (const [topic, message] of this.retained.entries()) {
      if (message.isExpired(nowMs)) expired.push(topic);
      else if (message.expiresAtMs !== 0 && (nextMs === 0 || message.expiresAtMs < nextMs)) {
        nextMs = message.expiresAtMs;
      }
    }
    for (const topic of expired) this.deleteRetained(topic);
    this.retainedExpiryMinMs = nextMs;
    return expired.length > 0;
  }

  private deliver(
    session: Session,
    message: Message,
    qos: QoS,
    retain: boolean,
    subscriptionIds: number[] | null,
    share: SharedGroup | null,
  ): void {
    const conn = session.link as MqttConnection | null;
    if (message.expiresAtMs !== 0 && message.isExpired(Date.now())) {
      this.stats.droppedExpired++;
      return;
    }
    const online = conn !== null && conn.state === ConnectionState.CONNECTED;
    if (qos === 0) {
      if (!online) this.stats.droppedOffline++;
      else if (conn.writable) conn.sendQos0(message, retain, subscriptionIds);
      else {
        this.stats.droppedSlowConsumer++;
        this.throttlePublisher(conn);
      }
      return;
    }
    if (session.persistedExpiryS > 0 && this.persistence !== null) {
      this.routeNeedsLog = true;
      if (share !== null) {
        if (this.routeShares === null) this.routeShares = [];
        this.routeShares.push([session.clientId, `$share/${share.group}/${share.filter}`]);
      }
      this.persistence.touch(session);
      if (this.routeSessions === null) this.routeSessions = [];
      this.routeSessions.push(session);
    }
    const delivery = newDelivery(message, qos, retain, subscriptionIds, share);
    if (!online) {
      this.enqueue(session, delivery);
      return;
    }
    conn.offer(delivery);
    if (session.queueLength >= this.queueHighWater) this.throttlePublisher(conn);
  }

  /** The current publisher waits until `subscriber` catches up (see FlowControl). */
  private throttlePublisher(subscriber: MqttConnection): void {
    const publisher = this.publisher;
    if (publisher !== null && publisher !== subscriber) subscriber.flow.addWaiter(publisher.flow);
  }

  /** Queues a delivery within the session's bound; overflow is dropped by policy and counted. */
  enqueue(session: Session, delivery: Delivery): void {
    const limits = this.config.mqtt_limits;
    delivery.message.compact();
    const result = session.enqueue(delivery, limits.max_queued_messages, limits.queue_drop_policy);
    if (result === "queued") {
      session.queueOverflowLogged = false;
      return;
    }
    this.stats.droppedQueueFull++;
    // One line per overflow episode, not per dropped message.
    if (!session.queueOverflowLogged) {
      session.queueOverflowLogged = true;
      this.logger.info(
        { clientId: session.clientId, policy: limits.queue_drop_policy },
        "session queue full: dropping messages",
      );
    }
  }

  private withdraw(message: Message, sessions: readonly Session[]): void {
    let count = 0;
    for (const session of sessions) count += session.withdraw(message);
    if (count > 0) {
      this.logger.info({ topic: message.topic, deliveries: count }, "unstored message withdrawn");
    }
  }

  /** Takes a retained message recovered from disk. */
  adoptRetained(message: Message): void {
    this.storeRetained(message);
  }

  deleteRetained(topic: string): boolean {
    const deleted = this.retained.delete(topic);
    if (deleted) this.persistence?.retainedChanged(topic);
    return deleted;
  }

  /**
   * Holds back the PUBLISH of a QoS 2 delivery to a persistent session until its packet id is
   * in the log: after a crash it must be resent under the same id, or the receiver could take
   * it twice. Deliveries after a held one wait behind it, so the session's order holds.
   * Returns false when nothing is held (the caller sends at once).
   */
  holdSend(session: Session, delivery: Delivery): boolean {
    const persistence = this.persistence;
    const mustRecord = persistence !== null && delivery.qos === 2 && session.persistedExpiryS > 0;
    if (!mustRecord && session.sendHold === null) return false;
    delivery.held = true;
    const packetId = delivery.packetId;
    const record = async () => {
      // A message read back from the log has its offset; a new one is being appended by the
      // publish that routed it (in the same turn, before this runs).
      const message = delivery.message;
      if (message.logOffset < 0) await message.stored;
      const offset = message.logOffset;
      if (offset >= 0) {
        await persistence?.record({ t: "send", c: session.clientId, o: offset, p: packetId });
      }
    };
    const ready = mustRecord ? Promise.resolve().then(record) : null;
    session.sendHolds++;
    session.sendHold = (session.sendHold ?? Promise.resolve())
      .then(() => ready)
      .then(
        () => {
          delivery.held = false;
          const conn = session.link as MqttConnection | null;
          if (conn === null || conn.state !== ConnectionState.CONNECTED) return; // resent on resume
          if (session.inflight.get(packetId) !== delivery) return;
          const { message, qos, retain, subscriptionIds } = delivery;
          if (!conn.writePublish(message, qos, retain, subscriptionIds, packetId, false)) {
            session.inflight.delete(packetId);
          }
        },
        (err: unknown) => {
          // Not sent; a resumed session resends it once the disk has recovered.
          delivery.held = false;
          this.logger.warn({ err, clientId: session.clientId }, "QoS 2 delivery not recorded");
        },
      )
      .catch((err: unknown) => {
        // A bug of ours: it ends the connection, not the process (nobody awaits this chain).
        this.logger.error(
          { err, clientId: session.clientId },
          "closing connection: internal error",
        );
        (session.link as MqttConnection | null)?.close("internal error", true);
      })
      .finally(() => {
        if (--session.sendHolds === 0) session.sendHold = null;
      });
    return true;
  }

  /** Delivers retained messages matching a new subscription, flagged retain [MQTT-3.3.1-9]. */
  sendRetained(conn: MqttConnection, filter: string, qos: QoS, subscriptionId: number): void {
    const ids = subscriptionId !== 0 ? [subscriptionId] : null;
    this.retained.match(filter, (topic, message) => {
      if (message.isExpired(Date.now())) {
        this.deleteRetained(topic); // match() allows deleting what it shows
        return;
      }
      const q = Math.min(message.qos, qos) as QoS;
      if (q === 0) conn.sendQos0(message, true, ids);
      else conn.offer(newDelivery(message, q, true, ids, null));
    });
  }

  // ---- sessions -----------------------------------------------------------------------

  /**
   * Attaches a connection to its session after a successful CONNECT: takes over any live
   * connection with the same client id [MQTT-3.1.4-3], resumes or replaces the session.
   * Returns whether a session was present.
   */
  openSession(conn: MqttConnection, cleanStart: boolean, expiryIntervalS: number): boolean {
    let session = this.sessions.get(conn.clientId);
    if (session !== undefined && session.link !== null) {
      const old = session.link as MqttConnection;
      this.logger.info({ clientId: conn.clientId }, "session taken over");
      old.session = null;
      session.link = null;
      this.connectedClients--;
      old.disconnect(ReasonCode.SESSION_TAKEN_OVER, "session taken over");
      this.connectionEnded(old); // its close finds no session: counted here
      // The old connection's will follows the usual rules; a resumed session cancels a delayed one.
      if (old.will !== null) this.scheduleWill(session, old.will, cleanStart);
      if (session.expiryIntervalS === 0) {
        this.endSession(session);
        session = undefined;
      }
    }
    if (session !== undefined && cleanStart) {
      this.endSession(session); // [MQTT-3.1.2-4]
      session = undefined;
    }
    const present = session !== undefined;
    if (session === undefined) {
      session = new Session(conn.clientId);
      this.sessions.set(conn.clientId, session);
    } else {
      this.cancelExpiry(session);
      this.cancelWill(session); // [MQTT-3.1.3-9]
    }
    session.expiryIntervalS = expiryIntervalS;
    session.link = conn;
    conn.session = session;
    this.persistence?.syncSession(session);
    this.connectedClients++;
    this.stats.connects++;
    this.sys?.clientConnected(clientEvent(conn));
    return present;
  }

  /** Called once per connection when it closes. */
  onConnectionClosed(conn: MqttConnection, wasConnected: boolean, publishWill: boolean): void {
    const session = conn.session;
    if (!wasConnected || session === null) return;
    conn.session = null;
    session.link = null;
    this.connectedClients--;
    session.disconnectedAtMs = Date.now();
    this.connectionEnded(conn);
    const settle = () => {
      this.persistence?.touch(session);
      this.redistributeShared(session);
      const will = publishWill ? conn.will : null;
      if (session.expiryIntervalS === 0) {
        if (will !== null) this.scheduleWill(session, will, true);
        this.endSession(session);
        return;
      }
      if (will !== null) this.scheduleWill(session, will, false);
      this.persistence?.syncSession(session); // DISCONNECT may have changed the interval
      this.scheduleExpiry(session);
    };
    // A close while a message is being routed must not change subscriptions under it.
    if (this.router.routing) setImmediate(settle);
    else settle();
  }

  /** A connected client's connection ended (closed, or its session taken over): counted, told. */
  private connectionEnded(conn: MqttConnection): void {
    this.stats.disconnects++;
    const lost = conn.closeReason === CONNECTION_LOST;
    this.disconnectCounts.add(
      disconnectReason(conn.clientDisconnected, conn.serverDisconnectCode, lost),
    );
    this.security?.onDisconnect(conn.clientId);
    this.logger.debug({ clientId: conn.clientId, reason: conn.closeReason }, "client disconnected");
    this.sys?.clientDisconnected({ ...clientEvent(conn), reason: conn.closeReason });
  }

  /** Disconnects the clients a ban now covers (v5: DISCONNECT 0x98); returns how many. */
  disconnectBanned(): number {
    const security = this.security;
    if (security === null) return 0;
    let count = 0;
    for (const conn of this.connections) {
      const principal = conn.principal;
      if (conn.state !== ConnectionState.CONNECTED || principal === null) continue;
      if (security.banned(principal) === null) continue;
      conn.disconnect(ReasonCode.ADMINISTRATIVE_ACTION, "banned");
      count++;
    }
    return count;
  }

  onStreamGone(conn: MqttConnection): void {
    this.connections.delete(conn);
  }

  /**
   * A departed member's unacknowledged shared-subscription messages go to another member of
   * the same group [MQTT-4.8.2-6 note]. If no member is left they stay with the session as
   * they are: inflight ones keep their packet identifier for the resend [MQTT-4.4.0-1].
   */
  private redistributeShared(session: Session): void {
    const taken = session.takeSharedDeliveries((share) =>
      this.router.hasMember(share as SharedGroup, session),
    );
    for (const d of taken) {
      const group = d.share as SharedGroup;
      if (this.router.deliverShared(group, d.message, session)) continue;
      this.enqueue(session, newDelivery(d.message, d.qos, d.retain, d.subscriptionIds, group));
    }
  }

  /** Ends a session: subscriptions, queued and inflight state are discarded. */
  endSession(session: Session): void {
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
    this.cancelExpiry(session);
    const pending = this.willTimers.get(session);
    if (pending !== undefined) {
      this.cancelWill(session);
      this.publishWill(pending.will, session.clientId); // [MQTT-3.1.3-9] session end fires it
    }
    this.exclusive.releaseSession(session);
    for (const sub of session.subscriptionValues()) this.router.unsubscribe(session, sub);
    if (session.link === null) this.redistributeShared(session);
    session.clearAll();
    session.expiryIntervalS = 0;
    this.persistence?.syncSession(session);
  }

  /** Takes a persistent session recovered from disk: offline, expiring `remainingMs` from now. */
  adoptSession(session: Session, remainingMs: number): void {
    this.sessions.set(session.clientId, session);
    for (const sub of session.subscriptions.values()) {
      this.router.subscribe(session, sub);
      if (sub.exclusive) this.exclusive.claim(session, sub.filter);
    }
    this.scheduleExpiry(session, remainingMs);
  }

  private scheduleExpiry(session: Session, delayMs = session.expiryIntervalS * 1000): void {
    this.cancelExpiry(session);
    // 0xFFFFFFFF means the session never expires [MQTT-3.1.2-... session expiry].
    if (session.expiryIntervalS === 0xffffffff) return;
    armLongTimer(
      delayMs,
      (timer) => this.expiryTimers.set(session, timer),
      () => {
        this.expiryTimers.delete(session);
        if (session.link === null) {
          this.logger.debug({ clientId: session.clientId }, "session expired");
          this.stats.sessionsExpired++;
          this.endSession(session);
        }
      },
    );
  }

  private cancelExpiry(session: Session): void {
    const timer = this.expiryTimers.get(session);
    if (timer !== undefined) clearTimeout(timer);
    this.expiryTimers.delete(session);
  }

  /** Publishes a will now or after its delay [MQTT-3.1.2-8, MQTT-3.1.3-9]. */
  private scheduleWill(session: Session, will: Will, sessionEnding: boolean): void {
    const delayS = will.properties?.willDelayInterval ?? 0;
    if (delayS === 0 || sessionEnding || this.shuttingDown) {
      this.publishWill(will, session.clientId);
      return;
    }
    this.cancelWill(session);
    armLongTimer(
      delayS * 1000,
      (timer) => this.willTimers.set(session, { will, timer }),
      () => {
        this.willTimers.delete(session);
        this.publishWill(will, session.clientId);
      },
    );
  }

  private cancelWill(session: Session): void {
    const pending = this.willTimers.get(session);
    if (pending !== undefined) clearTimeout(pending.timer);
    this.willTimers.delete(session);
  }

  private publishWill(will: Will, clientId: string): void {
    const props = will.properties;
    let expiresAtMs = 0;
    if (props?.messageExpiryInterval !== undefined) {
      expiresAtMs = Date.now() + props.messageExpiryInterval * 1000;
    }
    let forwarded = props;
    if (props !== undefined) {
      const { willDelayInterval: _d, messageExpiryInterval: _e, ...rest } = props;
      forwarded = rest;
    }
    this.logger.debug({ clientId, topic: will.topic }, "publishing will");
    this.stats.willsPublished++;
    this.publish(
      new Message(
        will.topic,
        will.payload,
        will.qos,
        will.retain,
        forwarded,
        expiresAtMs,
        clientId,
      ),
    );
  }

  // ---- shutdown -----------------------------------------------------------------------

  /**
   * Graceful stop: every client gets DISCONNECT 0x8B (v5) and its socket is flushed and closed;
   * resolves when all sockets are gone or the timeout passes.
   */
  async shutdown(timeoutMs = SHUTDOWN_TIMEOUT_MS): Promise<void> {
    this.shuttingDown = true;
    this.sys?.stop();
    for (const conn of this.connections) {
      if (conn.state === ConnectionState.CONNECTED) {
        conn.disconnect(ReasonCode.SERVER_SHUTTING_DOWN, "server shutting down");
      } else {
        conn.close("server shutting down", false);
      }
    }
    this.flush();
    const deadline = Date.now() + timeoutMs;
    while (this.connections.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    for (const conn of this.connections) conn.stream.destroy();
    for (const timer of this.expiryTimers.values()) clearTimeout(timer);
    for (const { timer } of this.willTimers.values()) clearTimeout(timer);
  }
}

function clientEvent(conn: MqttConnection): ClientEvent {
  return {
    clientId: conn.clientId,
    username: conn.username,
    remoteAddress: conn.remoteAddress,
    protocolVersion: conn.protocolVersion,
  };
}

/**
 * An unref'd timer for delays beyond setTimeout's range (Session Expiry and Will Delay go up
 * to 2^32-1 s; setTimeout fires a longer delay after 1 ms). It re-arms in steps; `track` gets
 * each step's timer so that clearing the latest one cancels the whole wait.
 */
function armLongTimer(
  delayMs: number,
  track: (timer: NodeJS.Timeout) => void,
  fire: () => void,
): void {
  const stepMs = Math.min(delayMs, TIMER_DELAY_MS_MAX);
  const timer = setTimeout(() => {
    if (delayMs > stepMs) armLongTimer(delayMs - stepMs, track, fire);
    else fire();
  }, stepMs);
  timer.unref();
  track(timer);
}
