import type { Duplex } from "node:stream";
import {
  CLOSE_LINGER_MS,
  FLUSH_CONCAT_BYTES_MAX,
  KEEP_ALIVE_PROGRESS_BYTES,
} from "../../config/limits.ts";
import { ErrorCode, type MqttProtocolError } from "../../errors.ts";
import { type ProtocolLevel, type QoS, ReasonCode } from "../../protocol/mqtt/constants.ts";
import { encode, MqttParser } from "../../protocol/mqtt/index.ts";
import type { Packet, Properties, Will } from "../../protocol/mqtt/packets.ts";
import type { AclCache } from "../../security/acl/acl-cache.ts";
import type { Principal } from "../../security/types.ts";
import type { MqttBroker } from "./broker.ts";
import { currentTick, DeadlineWheel, WHEEL_TICK_MS, type WheelEntry } from "./deadline-wheel.ts";
import { FlowControl, type FlowOwner } from "./flow-control.ts";
import type { ConnectPlan } from "./handlers/connect.ts";
import { dispatch } from "./handlers/index.ts";
import type { Message } from "./message.ts";
import {
  ACK_TEMPLATES,
  type AckType,
  DUP_FLAG,
  encodeCustom,
  needsCustomEncoding,
  publishTemplate,
  writePacketId,
} from "./outbound.ts";
import type { TokenBucket } from "./rate-limit.ts";
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

/** closeReason of a connection whose socket closed without either side's DISCONNECT. */
export const CONNECTION_LOST = "connection lost";

/** Connect timeouts and keep alives of every connection in the process. */
const deadlines = new DeadlineWheel();

/** Where the shared stream listeners below find their connection. */
const CONNECTION = Symbol("mqttConnection");
type ConnectionStream = Duplex & { [CONNECTION]: MqttConnection };

/** Answers queued one after another that wait for the same append (see answerAfter). */
interface AnswerGroup {
  durable: Promise<unknown> | null;
  sends: Array<() => void>;
  failures: Array<(err: unknown) => void>;
}

// The stream listeners are shared by all connections (`this` is the stream): a set of
// closures per connection cost about 0.6 KiB of heap each (bench/README.md, connections).
function onStreamData(this: ConnectionStream, chunk: Buffer): void {
  this[CONNECTION].onData(chunk);
}
function onStreamDrain(this: ConnectionStream): void {
  this[CONNECTION].onDrain();
}
function onStreamError(this: ConnectionStream, err: Error): void {
  this[CONNECTION].onStreamError(err);
}
function onStreamClose(this: ConnectionStream): void {
  this[CONNECTION].onStreamClose();
}
function resumeParsing(conn: MqttConnection): void {
  conn.resumeParsing();
}
function destroyStream(stream: Duplex): void {
  stream.destroy();
}

/**
 * Acknowledgements-only output waits one more event-loop turn. A publisher is read about
 * once per turn, and each read was answered with one write of its acks, which it answered
 * with a few more messages: one write and one read per 5 messages (bench/README.md). Held for
 * a turn, the acks of two reads go out together and the publisher's next burst is twice as
 * big. Under light load a turn lasts microseconds; the delay grows only with the load.
 * Deliveries are never held, and a delivery queued meanwhile takes the held acks along.
 */
let heldThisTurn: MqttConnection[] = [];
let heldLastTurn: MqttConnection[] = [];

function holdAcks(conn: MqttConnection): void {
  if (heldThisTurn.length === 0 && heldLastTurn.length === 0) setImmediate(releaseHeldAcks);
  heldThisTurn.push(conn);
}

/** Runs in the check phase of each turn while acks are held; releases last turn's. */
function releaseHeldAcks(): void {
  const release = heldLastTurn;
  heldLastTurn = heldThisTurn;
  heldThisTurn = [];
  for (let i = 0; i < release.length; i++) release[i].releaseAcks();
  // An immediate set from the check phase runs in the next turn's check phase.
  if (heldLastTurn.length > 0 || heldThisTurn.length > 0) setImmediate(releaseHeldAcks);
}

/** Smallest Maximum Packet Size that a 4-byte acknowledgement fits. */
const ACK_BYTES = 4;

/**
 * Reason strings are diagnostics, and some quote what the client sent (a topic, a method name):
 * cut to this many UTF-16 units, so that one stays well inside a UTF-8 string's 65,535 bytes.
 */
const REASON_STRING_CHARS_MAX = 1024;

function clipped(reason: string): string {
  let end = REASON_STRING_CHARS_MAX;
  // Never half of a surrogate pair: MQTT strings must be well-formed UTF-8 [MQTT-1.5.4-1].
  const last = reason.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${reason.slice(0, end)}...`;
}

/**
 * One packet for the socket: `chunk`'s bytes with `ids[i]` (a packet identifier, with
 * DUP_FLAG for DUP) written in, when ids has one; a template is shared and never modified.
 */
function patchedCopy(chunk: Buffer, id: number): Buffer {
  const copy = Buffer.allocUnsafe(chunk.length);
  copy.set(chunk, 0);
  writePacketId(copy, 0, id & 0xffff, (id & DUP_FLAG) !== 0);
  return copy;
}

/** All chunks in one buffer, packet identifiers written in as they are copied. */
function joinChunks(chunks: Buffer[], ids: number[] | null, bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  let offset = 0;
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i];
    out.set(chunk, offset);
    if (ids !== null && ids[i] !== 0) {
      writePacketId(out, offset, ids[i] & 0xffff, (ids[i] & DUP_FLAG) !== 0);
    }
    offset += chunk.length;
  }
  return out;
}

/**
 * One client connection: the shell around a byte stream (TCP, TLS or WebSocket). It parses,
 * dispatches to the packet handlers, writes, and enforces keep alive and write-buffer limits.
 */
export class MqttConnection implements SessionLink, WheelEntry, FlowOwner {
  readonly broker: MqttBroker;
  readonly stream: Duplex;
  readonly remoteAddress: string;
  readonly parser: MqttParser;
  state: ConnectionStateValue = ConnectionState.AWAIT_CONNECT;
  protocolVersion: ProtocolLevel = 4;
  clientId = "";
  username: string | undefined = undefined;
  /** Who this client is to the ACL; set once it is admitted, when the broker has security. */
  principal: Principal | null = null;
  /** Recent ACL decisions of this client (src/security/acl/acl-cache.ts). */
  aclCache: AclCache | null = null;
  /** Per-client PUBLISH and byte rates (mqtt_limits); null = unlimited. */
  messageRate: TokenBucket | null = null;
  byteRate: TokenBucket | null = null;
  /** Publishes the ACL refused on this connection (the first is logged at info). */
  publishDenials = 0;
  session: Session | null = null;
  /** Keep alive in ms as negotiated (0 = off); the connection closes after 1.5x of silence. */
  keepAliveMs = 0;
  /**
   * Wheel tick (see deadline-wheel.ts) of the last activity: a complete packet, or progress on
   * a large one (see noteActivity). A small integer.
   */
  lastActiveTick: number;
  /** A packet completed in the current parse. */
  private packetHeard = false;
  /** Bytes received since the last activity without completing a packet. */
  private partialBytes = 0;
  readonly openedAtMs: number;
  /** How many QoS 1/2 messages may be in flight to the client. */
  sendWindow = 65535;
  /**
   * PUBLISHes of a resumed session that are still to be resent, by packet identifier in their
   * original order; null when none. They wait for room in this connection's window like any
   * send: the client's Receive Maximum is new with each connection [MQTT-3.3.4-9].
   */
  private resendDue: Map<number, Delivery> | null = null;
  /** Largest packet the client accepts [MQTT-3.1.2-24]; 0 = no limit. */
  clientMaxPacketBytes = 0;
  /** Topic aliases the client lets us use (its Topic Alias Maximum). */
  topicAliasMaxOut = 0;
  outAliases: Map<string, number> | null = null;
  inAliases: Map<number, string> | null = null;
  /** UTF-8 bytes of the topics in inAliases (bounded by mqtt_limits.max_topic_alias_bytes). */
  inAliasBytes = 0;
  /** QoS 1 PUBLISH packets received and not yet answered with PUBACK (for receive_max). */
  inboundQos1Unacked = 0;
  /** False when the client set Request Problem Information to 0 [MQTT-3.1.2-29]. */
  problemInfo = true;
  will: Will | null = null;
  authMethod: string | undefined = undefined;
  authState: unknown = undefined;
  /** True from our AUTH 0x18 until the client answers: the only time AUTH 0x18 is valid. */
  authAwaitingClient = false;
  /** Session Expiry Interval the CONNECT asked for (before capping; MQTT 5 3.14.2.2.2). */
  requestedExpiryS = 0;
  connectPlan: ConnectPlan | null = null;
  /** Set once a DISCONNECT (normal) was received: no will. */
  disconnectedCleanly = false;
  closeReason = "";
  /** Reason code of the broker's DISCONNECT to this client (also for v3, which gets none). */
  serverDisconnectCode = -1;
  /** The client ended the connection with DISCONNECT. */
  clientDisconnected = false;
  /** Bytes written in this turn, flushed after it; null while there are none. */
  private outChunks: Buffer[] | null = null;
  /**
   * Per chunk, the packet identifier to write into it at flush (0 = none; see writeWithId);
   * null while no chunk of this turn needs one.
   */
  private outIds: number[] | null = null;
  private outBytes = 0;
  /** This turn's output is acknowledgements only (see flushOutput). */
  private outAcksOnly = false;
  /** Acknowledgements held for one more event-loop turn (see holdAcks). */
  acksHeld = false;
  /** Answers waiting for the message log, in the order their packets arrived. */
  private answerTail: Promise<void> | null = null;
  private answersWaiting = 0;
  /** The last answers queued, while they wait: later ones on the same append join them. */
  private answerGroup: AnswerGroup | null = null;
  /** Made when the connection first takes part in flow control; most idle ones never do. */
  private flowState: FlowControl | null = null;
  wheelDueTick = -1;
  wheelPrev: WheelEntry | null = null;
  wheelNext: WheelEntry | null = null;

  constructor(broker: MqttBroker, stream: Duplex, remoteAddress: string) {
    this.broker = broker;
    this.stream = stream;
    this.remoteAddress = remoteAddress;
    this.openedAtMs = Date.now();
    this.lastActiveTick = currentTick(this.openedAtMs);
    this.parser = new MqttParser(this, broker.config.mqtt_protocol_config.max_packet_size);
    (stream as ConnectionStream)[CONNECTION] = this;
    stream.on("data", onStreamData);
    stream.on("drain", onStreamDrain);
    stream.on("error", onStreamError);
    stream.on("close", onStreamClose);
    deadlines.schedule(this, this.openedAtMs + broker.config.mqtt_limits.connect_timeout_ms);
  }

  get flow(): FlowControl {
    if (this.flowState === null) this.flowState = new FlowControl(this);
    return this.flowState;
  }

  /** FlowOwner: stop reading this client, within the packet being handled. */
  pauseReading(): void {
    this.stream.pause();
    this.parser.pause();
  }

  /** FlowOwner: read this client again. */
  resumeReading(): void {
    // Not inside whatever released us (often another client's ack handler). Queued before
    // stream.resume() queues its own tick, so the parser takes back what it held before the
    // stream hands over what it buffered meanwhile (in that order, without a copy of each).
    process.nextTick(resumeParsing, this);
    this.stream.resume();
    // What was held back while it waited (see flushOutput) goes out with this turn's output.
    if (this.outChunks !== null) this.broker.scheduleFlush(this);
  }

  /** FlowOwner: this subscriber did not catch up in time. */
  onStuck(): void {
    this.broker.stats.slowSubscribers++;
    this.broker.logger.info(
      { clientId: this.clientId },
      "subscriber not keeping up: publishers no longer wait for it, its overflow is dropped",
    );
  }

  get isV5(): boolean {
    return this.protocolVersion === 5;
  }

  onData(chunk: Buffer): void {
    if (this.state === ConnectionState.CLOSED) return;
    this.broker.stats.bytesIn += chunk.length;
    if (this.byteRate !== null) this.overRate(this.byteRate, chunk.length);
    this.parse(chunk);
    this.noteActivity(chunk.length);
  }

  /**
   * Keep alive counts a complete packet [MQTT-3.1.2-24], not any byte: a client trickling one
   * byte at a time of a packet it never finishes would otherwise hold its connection forever.
   * Bytes of an unfinished packet count only in steps of KEEP_ALIVE_PROGRESS_BYTES, so that a
   * large packet on a slow link, which leaves no room for a PINGREQ, is not cut off.
   */
  private noteActivity(bytes: number): void {
    if (this.packetHeard) {
      this.packetHeard = false;
      this.partialBytes = 0;
      this.lastActiveTick = currentTick();
      return;
    }
    this.partialBytes += bytes;
    if (this.partialBytes < KEEP_ALIVE_PROGRESS_BYTES) return;
    this.partialBytes = 0;
    this.lastActiveTick = currentTick();
  }

  /** Charges `count` to a rate bucket; over it, this client is not read for a while. */
  overRate(bucket: TokenBucket, count: number): void {
    const waitMs = bucket.take(count, Date.now());
    if (waitMs > 0) this.flow.pauseFor(waitMs);
  }

  /** Resumes parsing what was held back by flow control, unless paused again meanwhile. */
  resumeParsing(): void {
    if (this.state === ConnectionState.CLOSED || this.flowState?.paused === true) return;
    this.parse(null);
    this.noteActivity(0);
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

  /** PacketSink: called by the parser for each packet. */
  onPacket(packet: Packet): void {
    if (this.state === ConnectionState.CLOSED) return;
    this.packetHeard = true;
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
    this.serverDisconnectCode = reasonCode;
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
    deadlines.cancel(this);
    this.flowState?.releaseWaiters();
    this.flushOutput(true);
    this.stream.end();
    // A peer that never reads would keep the socket half-open forever.
    setTimeout(destroyStream, CLOSE_LINGER_MS, this.stream).unref();
    this.broker.onConnectionClosed(this, wasConnected, publishWill && !this.disconnectedCleanly);
  }

  onStreamError(err: Error): void {
    this.broker.logger.debug({ clientId: this.clientId, err: err.message }, "socket error");
  }

  onStreamClose(): void {
    deadlines.cancel(this);
    if (this.state !== ConnectionState.CLOSED) this.close(CONNECTION_LOST, true);
    this.broker.onStreamGone(this);
  }

  // ---- timers -------------------------------------------------------------------------

  /** Starts keep-alive supervision after CONNACK [MQTT-3.1.2-22, -24]. */
  startKeepAlive(keepAliveS: number): void {
    this.keepAliveMs = keepAliveS * 1000;
    if (this.keepAliveMs > 0) this.scheduleKeepAlive();
    else deadlines.cancel(this);
  }

  /**
   * Due one whole tick after the tick of the last activity, plus 1.5x the keep alive: the
   * activity came at most a tick before that, so the check never runs early.
   */
  private scheduleKeepAlive(): void {
    const limitTicks = Math.ceil((this.keepAliveMs * 1.5) / WHEEL_TICK_MS);
    deadlines.scheduleTick(this, this.lastActiveTick + 1 + limitTicks);
  }

  /** WheelEntry: the connect timeout or keep-alive deadline has passed. */
  onDeadline(_nowMs: number): void {
    if (this.state === ConnectionState.CLOSED) return;
    if (this.state !== ConnectionState.CONNECTED) {
      this.broker.logger.info({ remote: this.remoteAddress }, "closing connection: no CONNECT");
      this.close("connect timeout", false);
      return;
    }
    if (this.keepAliveMs === 0) return;
    // While we hold a client back it cannot be heard (its PINGREQs wait in TCP): that silence
    // is ours, so its keep-alive period starts again.
    if (this.flowState?.heldByUs === true) this.lastActiveTick = currentTick();
    const limitTicks = Math.ceil((this.keepAliveMs * 1.5) / WHEEL_TICK_MS);
    if (currentTick() >= this.lastActiveTick + 1 + limitTicks) {
      this.broker.logger.info(
        { clientId: this.clientId },
        "closing connection: keep alive timeout",
      );
      this.disconnect(ReasonCode.KEEP_ALIVE_TIMEOUT, "keep alive timeout");
      return;
    }
    // Idle clients come by here once per keep-alive period: a good time to hand back the
    // session's collections that a metrics scrape or checkpoint made.
    this.session?.releaseEmpty();
    this.scheduleKeepAlive();
  }

  // ---- writing ------------------------------------------------------------------------

  /** Encodes and writes a control packet, trimming diagnostics to fit the client's limit. */
  sendPacket(packet: Packet): void {
    const reason = "properties" in packet ? packet.properties?.reasonString : undefined;
    if ("properties" in packet && reason !== undefined && reason.length > REASON_STRING_CHARS_MAX) {
      const properties = { ...packet.properties, reasonString: clipped(reason) };
      packet = { ...packet, properties } as Packet;
    }
    let buffer: Buffer;
    try {
      buffer = encode(packet, this.protocolVersion);
    } catch (err) {
      // A packet the encoder refuses is a bug of ours: it ends this connection, not the process
      // (this may run in a callback, where a throw would be an unhandled rejection).
      this.broker.logger.error(
        { err, clientId: this.clientId, packet: packet.type },
        "closing connection: a packet could not be encoded",
      );
      this.close("internal error", true);
      return;
    }
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
    // The messages of one append (a batch of the message log) share its promise: their
    // answers wait as one group, one promise chain per batch instead of one per message.
    const last = this.answerGroup;
    if (last !== null && last.durable === durable) {
      last.sends.push(send);
      last.failures.push(failed);
      return;
    }
    const group: AnswerGroup = { durable, sends: [send], failures: [failed] };
    this.answerGroup = group;
    const previous = this.answerTail ?? Promise.resolve();
    this.answerTail = previous
      .then(() => durable)
      .then(
        () => {
          if (this.answerGroup === group) this.answerGroup = null;
          if (this.state === ConnectionState.CLOSED) return;
          for (let i = 0; i < group.sends.length; i++) group.sends[i]();
        },
        (err: unknown) => {
          if (this.answerGroup === group) this.answerGroup = null;
          if (this.state === ConnectionState.CLOSED) return;
          for (let i = 0; i < group.failures.length; i++) group.failures[i](err);
        },
      )
      .catch((err: unknown) => {
        this.broker.logger.error({ err, clientId: this.clientId }, "answer failed");
        this.close("internal error", false);
      })
      .finally(() => {
        if (this.answerGroup === group) this.answerGroup = null;
        this.answersWaiting -= group.sends.length;
        if (this.answersWaiting === 0) this.answerTail = null;
      });
  }

  /**
   * Queues bytes for the socket. Everything written in one event-loop turn goes out as one
   * write (see flushOutput): one syscall and one stream entry instead of one per packet.
   */
  writeRaw(buffer: Buffer): void {
    if (this.stream.destroyed) return;
    this.startOutput(false);
    (this.outChunks as Buffer[]).push(buffer);
    if (this.outIds !== null) this.outIds.push(0);
    this.outBytes += buffer.length;
    this.broker.stats.bytesOut += buffer.length;
  }

  /** Makes sure this turn's output exists and is flushed, before a packet is added to it. */
  private startOutput(ack: boolean): void {
    if (this.outChunks === null) {
      this.outChunks = [];
      this.outAcksOnly = ack;
      this.broker.scheduleFlush(this);
      return;
    }
    if (ack || !this.outAcksOnly) return;
    this.outAcksOnly = false;
    // Held acknowledgements (see holdAcks) do not hold up anything else.
    if (this.acksHeld) this.broker.scheduleFlush(this);
  }

  /**
   * Queues a shared template (a PUBLISH or an acknowledgement) with its packet identifier.
   * The identifier is written in when the turn's output is joined for the socket, so the
   * packet is copied once, not once here and again at flush.
   */
  private writeWithId(template: Buffer, packetId: number, dup: boolean, ack: boolean): void {
    if (this.stream.destroyed) return;
    this.startOutput(ack);
    const chunks = this.outChunks as Buffer[];
    if (this.outIds === null) this.outIds = new Array<number>(chunks.length).fill(0);
    chunks.push(template);
    this.outIds.push(packetId | (dup ? DUP_FLAG : 0));
    this.outBytes += template.length;
    this.broker.stats.bytesOut += template.length;
  }

  /**
   * PUBACK, PUBREC, PUBREL or PUBCOMP. With reason code 0 (or before MQTT 5, which has none)
   * it is 4 bytes from a template; anything else goes through the encoder.
   */
  sendAck(type: AckType, packetId: number, reasonCode: number): void {
    const fits = this.clientMaxPacketBytes === 0 || this.clientMaxPacketBytes >= ACK_BYTES;
    if ((reasonCode === 0 || !this.isV5) && fits) {
      this.writeWithId(ACK_TEMPLATES[type], packetId, false, true);
      return;
    }
    this.sendPacket({ type, packetId, reasonCode });
  }

  /** End of holdAcks: the acknowledgements held go out now, with anything added since. */
  releaseAcks(): void {
    if (!this.acksHeld) return;
    this.acksHeld = false;
    if (this.flowState?.throttled !== true) this.flushOutput(true);
  }

  /**
   * Writes what this turn queued. Output that is only acknowledgements waits one more
   * event-loop turn (see holdAcks). A publisher that waits for a subscriber (see FlowControl)
   * keeps its output until it is read again, unless `force`: its acknowledgements would only
   * invite messages that are not read yet, and held back they go out together, so that the
   * publisher sends, and is read, in bigger batches (one write per its window instead of one
   * per read). It is read again within THROTTLE_WAIT_MS_MAX at the latest.
   */
  flushOutput(force = false): void {
    const chunks = this.outChunks;
    if (chunks === null) return;
    if (!force) {
      if (this.flowState?.throttled === true) return;
      if (this.outAcksOnly && !this.acksHeld) {
        this.acksHeld = true;
        holdAcks(this);
        return;
      }
    }
    this.acksHeld = false;
    const ids = this.outIds;
    const bytes = this.outBytes;
    this.outChunks = null;
    this.outIds = null;
    this.outBytes = 0;
    const count = chunks.length;
    if (!this.stream.destroyed) {
      if (count === 1) {
        this.stream.write(ids === null ? chunks[0] : patchedCopy(chunks[0], ids[0]));
      } else if (bytes <= FLUSH_CONCAT_BYTES_MAX) {
        this.stream.write(joinChunks(chunks, ids, bytes));
      } else {
        // Large payloads are not worth copying: hand them to writev as they are.
        this.stream.cork();
        for (let i = 0; i < count; i++) {
          const id = ids === null ? 0 : ids[i];
          this.stream.write(id === 0 ? chunks[i] : patchedCopy(chunks[i], id));
        }
        this.stream.uncork();
      }
    }
    // A client that does not read what we send is not read from either: TCP backpressure
    // then bounds what it can make us buffer (acks, PINGRESPs, its own publishes).
    if (!this.writable) {
      this.flow.pauseSelf();
      return;
    }
    // Deliveries queued because this turn's output was over the bound go now: the socket took
    // it without a 'drain' to come, and an empty window brings no acknowledgement either.
    const session = this.session;
    const waiting = session !== null && (session.queueLength > 0 || this.resendDue !== null);
    if (waiting && this.outstanding(session) < this.sendWindow) this.pump();
  }

  onDrain(): void {
    this.flowState?.resumeSelf();
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
    if (session.queueLength === 0 && this.canSend(session)) {
      this.sendInflight(session, delivery, false);
      return;
    }
    this.broker.enqueue(session, delivery);
  }

  /** New deliveries go out only after every resend, in the window and within the buffer bound. */
  private canSend(session: Session): boolean {
    return this.resendDue === null && session.inflightCount < this.sendWindow && this.writable;
  }

  /**
   * QoS 1/2 PUBLISHes (and PUBRELs) the client has yet to acknowledge on this connection: the
   * in-flight deliveries that are not waiting to be resent.
   */
  private outstanding(session: Session): number {
    return session.inflightCount - (this.resendDue === null ? 0 : this.resendDue.size);
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
    if (this.resendDue !== null) this.resendWithinWindow(session);
    const nowMs = Date.now();
    while (session.queueLength > 0 && this.canSend(session)) {
      const delivery = session.queue.shift() as Delivery;
      if (delivery.message.isExpired(nowMs)) {
        this.broker.stats.droppedExpired++;
        continue;
      }
      this.sendInflight(session, delivery, false);
    }
    const flow = this.flowState;
    if (flow !== null && (flow.hasWaiters || flow.stuck) && this.writable) {
      const highWater = this.broker.queueHighWater;
      const queued = session.queueLength;
      // Publishers are let go in small groups (a group per sixteenth of the free room).
      if (queued <= highWater >> 1) flow.release(Math.max(1, (highWater - queued) >> 4));
    }
  }

  /**
   * After a session resumes: resend unacknowledged PUBLISH with DUP and PUBREL in their
   * original order and with their original packet identifiers [MQTT-4.4.0-1]. PUBLISHes go out
   * as the client's Receive Maximum allows, the rest as acknowledgements make room
   * [MQTT-3.3.4-9]. PUBRELs all go at once: the send quota limits PUBLISHes only, and other
   * packets must flow even when it is used up [MQTT-4.9.0-3]. A PUBREL'd message still holds
   * its slot until PUBCOMP, as it does within a connection.
   */
  resendInflight(): void {
    const session = this.session as Session;
    if (session.inflightCount === 0) return;
    let due: Map<number, Delivery> | null = null;
    for (const delivery of session.inflight.values()) {
      if (delivery.held) continue; // goes out when its packet id is durable
      if (delivery.state === DeliveryState.AWAITING_COMP) {
        this.sendAck("pubrel", delivery.packetId, 0);
        continue;
      }
      if (due === null) due = new Map();
      due.set(delivery.packetId, delivery);
    }
    this.resendDue = due;
    if (due !== null) this.resendWithinWindow(session);
  }

  /** The client settled a delivery (PUBACK, PUBREC) that may not have been resent yet. */
  settled(packetId: number): void {
    const due = this.resendDue;
    if (due === null) return;
    due.delete(packetId);
    if (due.size === 0) this.resendDue = null;
  }

  /** Resends, in order, as many of the PUBLISHes still due as the window has room for. */
  private resendWithinWindow(session: Session): void {
    const due = this.resendDue as Map<number, Delivery>;
    for (const [packetId, delivery] of due) {
      if (this.outstanding(session) >= this.sendWindow || !this.writable) return;
      due.delete(packetId);
      if (session.inflight.get(packetId) !== delivery) continue; // left flight another way
      const m = delivery.message;
      const sent = this.writePublish(
        m,
        delivery.qos,
        delivery.retain,
        delivery.subscriptionIds,
        packetId,
        true,
      );
      // [MQTT-3.1.2-25] too large for this connection: discarded as if its delivery completed,
      // so it does not hold an inflight slot for ever.
      if (!sent) session.inflight.delete(packetId);
    }
    this.resendDue = null;
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
    const custom = needsCustomEncoding(this, message, subscriptionIds);
    const buffer = custom
      ? encodeCustom(this, message, qos, retain, subscriptionIds, packetId, dup)
      : publishTemplate(this, message, qos, retain);
    if (this.clientMaxPacketBytes > 0 && buffer.length > this.clientMaxPacketBytes) {
      this.broker.stats.droppedTooLarge++; // [MQTT-3.1.2-25]
      return false;
    }
    const stats = this.broker.stats;
    stats.messagesOut++;
    if (qos === 0) stats.messagesOutQos0++;
    else if (qos === 1) stats.messagesOutQos1++;
    else stats.messagesOutQos2++;
    if (custom || qos === 0) this.writeRaw(buffer);
    else this.writeWithId(buffer, packetId, dup, false);
    return true;
  }
}
