import type { Duplex } from "node:stream";
import { CLOSE_LINGER_MS, FLUSH_CONCAT_BYTES_MAX } from "../../config/limits.ts";
import { ErrorCode, type MqttProtocolError } from "../../errors.ts";
import { type ProtocolLevel, type QoS, ReasonCode } from "../../protocol/mqtt/constants.ts";
import { encode, MqttParser } from "../../protocol/mqtt/index.ts";
import type { Packet, Properties, Will } from "../../protocol/mqtt/packets.ts";
import type { MqttBroker } from "./broker.ts";
import { FlowControl } from "./flow-control.ts";
import type { ConnectPlan } from "./handlers/connect.ts";
import { dispatch } from "./handlers/index.ts";
import type { Message } from "./message.ts";
import { encodeDelivery } from "./outbound.ts";
import { type Delivery, DeliveryState, type Session, type SessionLink } from "./session.ts";

export const ConnectionState = {
  /** Socket open, waiting for CONNECT. */
  AWAIT_CONNECT: 0,
  /** CONNECT received; enhanced authentication or an async check is in progress. */
  AUTHENTICATING: 1,
  CONNECTED: 2,
  CLOSED: 3,
} as const;
export type ConnectionStateValue = (typeof ConnectionState)[keyof typeof ConnectionState];

/**
 * One client connection: the shell around a byte stream (TCP, TLS or WebSocket). It parses,
 * dispatches to the packet handlers, writes, and enforces keep alive and write-buffer limits.
 */
export class MqttConnection implements SessionLink {
  readonly broker: MqttBroker;
  readonly stream: Duplex;
  readonly remoteAddress: string;
  readonly parser: MqttParser;
  state: ConnectionStateValue = ConnectionState.AWAIT_CONNECT;
  protocolVersion: ProtocolLevel = 4;
  clientId = "";
  username: string | undefined = undefined;
  session: Session | null = null;
  /** Keep alive in ms as negotiated (0 = off); the connection closes after 1.5x of silence. */
  keepAliveMs = 0;
  lastPacketAtMs: number;
  readonly openedAtMs: number;
  /** How many QoS 1/2 messages may be in flight to the client. */
  sendWindow = 65535;
  /** Largest packet the client accepts [MQTT-3.1.2-24]; 0 = no limit. */
  clientMaxPacketBytes = 0;
  /** Topic aliases the client lets us use (its Topic Alias Maximum). */
  topicAliasMaxOut = 0;
  outAliases: Map<string, number> | null = null;
  inAliases: Map<number, string> | null = null;
  /** False when the client set Request Problem Information to 0 [MQTT-3.1.2-29]. */
  problemInfo = true;
  will: Will | null = null;
  authMethod: string | undefined = undefined;
  authState: unknown = undefined;
  /** True from our AUTH 0x18 until the client answers: the only time AUTH 0x18 is valid. */
  authAwaitingClient = false;
  /** Session Expiry Interval the CONNECT asked for (before capping) [MQTT-3.14.2-2]. */
  requestedExpiryS = 0;
  connectPlan: ConnectPlan | null = null;
  /** Set once a DISCONNECT (normal) was received: no will. */
  disconnectedCleanly = false;
  closeReason = "";
  private readonly outChunks: Buffer[] = [];
  private outBytes = 0;
  /** Answers waiting for the message log, in the order their packets arrived. */
  private answerTail: Promise<void> | null = null;
  private answersWaiting = 0;
  readonly flow: FlowControl;
  private timer: NodeJS.Timeout | null = null;

  constructor(broker: MqttBroker, stream: Duplex, remoteAddress: string) {
    this.broker = broker;
    this.stream = stream;
    this.remoteAddress = remoteAddress;
    this.openedAtMs = Date.now();
    this.lastPacketAtMs = this.openedAtMs;
    this.flow = new FlowControl(
      () => {
        stream.pause();
        this.parser.pause();
      },
      () => {
        stream.resume();
        // Not inside whatever released us (often another client's ack handler).
        process.nextTick(() => this.resumeParsing());
      },
      () => {
        broker.stats.slowSubscribers++;
        broker.logger.info(
          { clientId: this.clientId },
          "subscriber not keeping up: publishers no longer wait for it, its overflow is dropped",
        );
      },
    );
    this.parser = new MqttParser(
      (packet) => this.onPacket(packet),
      broker.config.mqtt_protocol_config.max_packet_size,
    );
    stream.on("data", (chunk: Buffer) => this.onData(chunk));
    stream.on("drain", () => this.onDrain());
    stream.on("error", (err: Error) => this.onStreamError(err));
    stream.on("close", () => this.onStreamClose());
    this.armTimer(broker.config.mqtt_limits.connect_timeout_ms);
  }

  get isV5(): boolean {
    return this.protocolVersion === 5;
  }

  private onData(chunk: Buffer): void {
    if (this.state === ConnectionState.CLOSED) return;
    this.lastPacketAtMs = Date.now();
    this.broker.stats.bytesIn += chunk.length;
    this.parse(chunk);
  }

  /** Resumes parsing what was held back by flow control, unless paused again meanwhile. */
  private resumeParsing(): void {
    if (this.state === ConnectionState.CLOSED || this.flow.paused) return;
    this.parse(null);
  }

  /** Feeds the parser (`null`: resume it); handler bugs close this connection only. */
  private parse(chunk: Buffer | null): void {
    let error: MqttProtocolError | null;
    try {
      error = chunk === null ? this.parser.resume() : this.parser.push(chunk);
    } catch (err) {
      // A broker bug must cost this connection, not every client of the process.
      this.broker.stats.internalErrors++;
      this.broker.logger.error(
        { clientId: this.clientId, err },
        "internal error while handling a packet; closing the connection",
      );
      this.disconnect(ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR, "internal error");
      return;
    }
    if (error !== null) this.onProtocolError(error);
  }

  private onPacket(packet: Packet): void {
    if (this.state === ConnectionState.CLOSED) return;
    dispatch(this, packet);
  }

  private onProtocolError(error: MqttProtocolError): void {
    const log = this.broker.logger;
    log.info(
      { clientId: this.clientId, remote: this.remoteAddress, code: error.code },
      `closing connection: ${error.message}`,
    );
    this.broker.stats.protocolErrors++;
    if (this.state === ConnectionState.AWAIT_CONNECT) {
      this.protocolVersion = this.parser.protocolVersion;
      if (error.code === ErrorCode.MQTT_UNSUPPORTED_PROTOCOL_VERSION) {
        // [MQTT-3.1.2-2] v3 form: return code 1, then close.
        this.writeRaw(Buffer.from([0x20, 0x02, 0x00, 0x01]));
      } else if (this.isV5) {
        this.sendPacket({ type: "connack", sessionPresent: false, reasonCode: error.reasonCode });
      }
      this.close(error.message, false);
      return;
    }
    this.disconnect(error.reasonCode, error.message);
  }

  /** Sends DISCONNECT with a reason code (v5 only) and closes; the will is published. */
  disconnect(reasonCode: number, why: string): void {
    if (this.state === ConnectionState.CLOSED) return;
    if (this.isV5 && this.state === ConnectionState.CONNECTED) {
      const properties: Properties | undefined = this.problemInfo
        ? { reasonString: why }
        : undefined;
      this.sendPacket({ type: "disconnect", reasonCode, properties });
    }
    this.close(why, true);
  }

  /** Protocol violation found by a handler: logged, DISCONNECT (v5), close. */
  protocolError(reasonCode: number, why: string): void {
    this.broker.logger.info(
      { clientId: this.clientId, remote: this.remoteAddress, reasonCode },
      `closing connection: ${why}`,
    );
    this.broker.stats.protocolErrors++;
    this.disconnect(reasonCode, why);
  }

  /**
   * Closes the connection once. `publishWill` is false only for a normal DISCONNECT and for
   * connections that never completed CONNECT.
   */
  close(why: string, publishWill: boolean): void {
    if (this.state === ConnectionState.CLOSED) return;
    const wasConnected = this.state === ConnectionState.CONNECTED;
    this.state = ConnectionState.CLOSED;
    this.closeReason = why;
    this.parser.stop();
    this.clearTimer();
    this.flow.releaseWaiters();
    this.flushOutput();
    this.stream.end();
    // A peer that never reads would keep the socket half-open forever.
    setTimeout(() => this.stream.destroy(), CLOSE_LINGER_MS).unref();
    this.broker.onConnectionClosed(this, wasConnected, publishWill && !this.disconnectedCleanly);
  }

  private onStreamError(err: Error): void {
    this.broker.logger.debug({ clientId: this.clientId, err: err.message }, "socket error");
  }

  private onStreamClose(): void {
    this.clearTimer();
    if (this.state !== ConnectionState.CLOSED) this.close("connection lost", true);
    this.broker.onStreamGone(this);
  }

  // ---- timers -------------------------------------------------------------------------

  /** Starts keep-alive supervision after CONNACK [MQTT-3.1.2-22, -24]. */
  startKeepAlive(keepAliveS: number): void {
    this.keepAliveMs = keepAliveS * 1000;
    this.clearTimer();
    if (this.keepAliveMs > 0) this.armTimer(this.keepAliveMs * 1.5);
  }

  private armTimer(delayMs: number): void {
    this.timer = setTimeout(() => this.onTimer(), delayMs);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private onTimer(): void {
    this.timer = null;
    if (this.state === ConnectionState.CLOSED) return;
    if (this.state !== ConnectionState.CONNECTED) {
      this.broker.logger.info({ remote: this.remoteAddress }, "closing connection: no CONNECT");
      this.close("connect timeout", false);
      return;
    }
    const limitMs = this.keepAliveMs * 1.5;
    const idleMs = Date.now() - this.lastPacketAtMs;
    if (idleMs >= limitMs) {
      this.broker.logger.info(
        { clientId: this.clientId },
        "closing connection: keep alive timeout",
      );
      this.disconnect(ReasonCode.KEEP_ALIVE_TIMEOUT, "keep alive timeout");
      return;
    }
    this.armTimer(limitMs - idleMs);
  }

  // ---- writing ------------------------------------------------------------------------

  /** Encodes and writes a control packet, trimming diagnostics to fit the client's limit. */
  sendPacket(packet: Packet): void {
    let buffer = encode(packet, this.protocolVersion);
    if (this.clientMaxPacketBytes > 0 && buffer.length > this.clientMaxPacketBytes) {
      // [MQTT-3.1.2-25] drop the reason string and user properties, then give up.
      if ("properties" in packet && packet.properties !== undefined) {
        const { reasonString: _r, userProperties: _u, ...rest } = packet.properties;
        buffer = encode({ ...packet, properties: rest } as Packet, this.protocolVersion);
      }
      if (buffer.length > this.clientMaxPacketBytes) return;
    }
    this.writeRaw(buffer);
  }

  /**
   * Sends an answer (PUBACK, PUBREC, PUBCOMP, PUBREL, SUBACK, UNSUBACK) once `durable` holds,
   * and after every answer queued before it: acknowledgements go out in the order the packets
   * arrived [MQTT-4.6.0-2..4] even when only some of them wait for the disk. `failed` runs
   * instead of `send` if the append behind `durable` failed.
   */
  answerAfter(
    durable: Promise<unknown> | null,
    send: () => void,
    failed: (err: unknown) => void,
  ): void {
    if (durable === null && this.answersWaiting === 0) {
      send();
      return;
    }
    this.answersWaiting++;
    const previous = this.answerTail ?? Promise.resolve();
    this.answerTail = previous
      .then(() => durable)
      .then(
        () => {
          if (this.state !== ConnectionState.CLOSED) send();
        },
        (err: unknown) => {
          if (this.state !== ConnectionState.CLOSED) failed(err);
        },
      )
      .catch((err: unknown) => {
        this.broker.logger.error({ err, clientId: this.clientId }, "answer failed");
        this.close("internal error", false);
      })
      .finally(() => {
        if (--this.answersWaiting === 0) this.answerTail = null;
      });
  }

  /**
   * Queues bytes for the socket. Everything written in one event-loop turn goes out as one
   * write (see flushOutput): one syscall and one stream entry instead of one per packet.
   */
  writeRaw(buffer: Buffer): void {
    if (this.stream.destroyed) return;
    if (this.outChunks.length === 0) this.broker.scheduleFlush(this);
    this.outChunks.push(buffer);
    this.outBytes += buffer.length;
    this.broker.stats.bytesOut += buffer.length;
  }

  flushOutput(): void {
    const chunks = this.outChunks;
    const count = chunks.length;
    if (count === 0) return;
    if (!this.stream.destroyed) {
      if (count === 1) {
        this.stream.write(chunks[0]);
      } else if (this.outBytes <= FLUSH_CONCAT_BYTES_MAX) {
        this.stream.write(Buffer.concat(chunks, this.outBytes));
      } else {
        // Large payloads are not worth copying: hand them to writev as they are.
        this.stream.cork();
        for (let i = 0; i < count; i++) this.stream.write(chunks[i]);
        this.stream.uncork();
      }
    }
    chunks.length = 0;
    this.outBytes = 0;
    // A client that does not read what we send is not read from either: TCP backpressure
    // then bounds what it can make us buffer (acks, PINGRESPs, its own publishes).
    if (!this.writable) this.flow.pauseSelf();
  }

  private onDrain(): void {
    this.flow.resumeSelf();
    this.pump();
  }

  /** True while the socket's write buffer is within the configured bound. */
  get writable(): boolean {
    const queued = this.stream.writableLength + this.outBytes;
    return queued <= this.broker.config.mqtt_limits.max_write_buffer_bytes;
  }

  /** QoS 0 fast path: no Delivery object; identical bytes shared between subscribers. */
  sendQos0(message: Message, retain: boolean, subscriptionIds: number[] | null): void {
    if (!this.writable) {
      this.broker.stats.droppedSlowConsumer++;
      return;
    }
    this.writePublish(message, 0, retain, subscriptionIds, 0, false);
  }

  /** Offers a QoS 1/2 delivery: sent now if the window allows, otherwise queued. */
  offer(delivery: Delivery): void {
    const session = this.session as Session;
    if (session.queue.length === 0 && this.canSend(session)) {
      this.sendInflight(session, delivery, false);
      return;
    }
    this.broker.enqueue(session, delivery);
  }

  private canSend(session: Session): boolean {
    return session.inflight.size < this.sendWindow && this.writable;
  }

  private sendInflight(session: Session, delivery: Delivery, dup: boolean): void {
    delivery.message.compact();
    const packetId = session.allocatePacketId();
    session.markSent(delivery, packetId);
    if (this.broker.holdSend(session, delivery)) return;
    const sent = this.writePublish(
      delivery.message,
      delivery.qos,
      delivery.retain,
      delivery.subscriptionIds,
      packetId,
      dup,
    );
    if (!sent) session.inflight.delete(packetId);
  }

  /** Moves queued deliveries into the inflight window while the client keeps up. */
  pump(): void {
    const session = this.session;
    if (session === null || this.state !== ConnectionState.CONNECTED) return;
    const nowMs = Date.now();
    while (session.queue.length > 0 && this.canSend(session)) {
      const delivery = session.queue.shift() as Delivery;
      if (delivery.message.isExpired(nowMs)) {
        this.broker.stats.droppedExpired++;
        continue;
      }
      this.sendInflight(session, delivery, false);
    }
    if ((this.flow.hasWaiters || this.flow.stuck) && this.writable) {
      const highWater = this.broker.queueHighWater;
      const queued = session.queue.length;
      // Publishers are let go in small groups (a group per sixteenth of the free room).
      if (queued <= highWater >> 1) this.flow.release(Math.max(1, (highWater - queued) >> 4));
    }
  }

  /**
   * After a session resumes: resend unacknowledged PUBLISH with DUP and PUBREL in their
   * original order and with their original packet identifiers [MQTT-4.4.0-1].
   */
  resendInflight(): void {
    const session = this.session as Session;
    for (const delivery of session.inflight.values()) {
      if (delivery.held) continue; // goes out when its packet id is durable
      if (delivery.state === DeliveryState.AWAITING_COMP) {
        this.sendPacket({ type: "pubrel", packetId: delivery.packetId, reasonCode: 0 });
        continue;
      }
      const m = delivery.message;
      const sent = this.writePublish(
        m,
        delivery.qos,
        delivery.retain,
        delivery.subscriptionIds,
        delivery.packetId,
        true,
      );
      // [MQTT-3.1.2-25] too large for this connection: discarded as if its delivery completed,
      // so it does not hold an inflight slot for ever.
      if (!sent) session.inflight.delete(delivery.packetId);
    }
  }

  /** Writes one PUBLISH; false if it had to be dropped for the client's size limit. */
  writePublish(
    message: Message,
    qos: QoS,
    retain: boolean,
    subscriptionIds: number[] | null,
    packetId: number,
    dup: boolean,
  ): boolean {
    const buffer = encodeDelivery(this, message, qos, retain, subscriptionIds, packetId, dup);
    if (this.clientMaxPacketBytes > 0 && buffer.length > this.clientMaxPacketBytes) {
      this.broker.stats.droppedTooLarge++; // [MQTT-3.1.2-25]
      return false;
    }
    this.broker.stats.messagesOut++;
    this.writeRaw(buffer);
    return true;
  }
}
