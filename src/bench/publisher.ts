/**
 * One publishing client. Its PUBLISH packet is encoded once; each send copies it, patches the
 * packet id (QoS 1/2) and the send time into the copy, and a whole batch goes out in one write.
 * What may go now is the smallest of: the pacer's allowance (--rate), the free inflight slots
 * (--inflight, QoS 1/2), what is left of --count, and one batch. A full socket (write returned
 * false) stops it until 'drain': that is QoS 0's backpressure.
 */
import { assert } from "../errors.ts";
import type { Packet, QoS } from "../protocol/mqtt/index.ts";
import { type Client, ClientState, type PacketHandler } from "./client.ts";
import { recordMicros } from "./histogram.ts";
import { PUBLISH_BATCH_BYTES_MAX, PUBLISH_BATCH_COUNT_MAX } from "./limits.ts";
import { Pacer } from "./pacing.ts";
import type { WorkerStats } from "./stats.ts";
import { AckByte, type PublishTemplate, reasonText } from "./wire.ts";

const ID_FREE = 0;
/** Sent, waiting for PUBACK (QoS 1) or PUBREC (QoS 2). */
const ID_SENT = 1;
/** QoS 2: PUBREC received and PUBREL sent, waiting for PUBCOMP. */
const ID_RELEASED = 2;
/** Reason codes from 0x80 up are failures [MQTT-2.4]. */
const REASON_FAILURE_MIN = 0x80;

/** What a publisher needs from the worker's publish loop. */
export interface PublishLoop {
  /** Asks for pump() to be called soon (the publisher may be able to send). */
  wake(publisher: Publisher): void;
  /** The publisher will send nothing more and has no message in flight. */
  done(publisher: Publisher): void;
}

export interface PublisherSettings {
  qos: QoS;
  inflightCountMax: number;
  /** Infinity for no limit. */
  messageCountMax: number;
  /** 0 = unlimited. */
  ratePerSecond: number;
}

export class Publisher implements PacketHandler {
  readonly client: Client;
  sentCount = 0;
  ackedCount = 0;
  inflightCount = 0;
  /** Waiting for 'drain'. */
  blocked = false;
  /** In the publish loop's queue. */
  queued = false;
  isDone = false;
  private readonly settings: PublisherSettings;
  private readonly template: PublishTemplate;
  private readonly stats: WorkerStats;
  private readonly loop: PublishLoop;
  private readonly batchCountMax: number;
  private pacer: Pacer | null = null;
  private stopped = true;
  /** Packet id states (QoS 1/2), ids 1..idCount. */
  private readonly idStates: Uint8Array;
  private readonly idSentMicros: Float64Array;
  private idNext = 1;
  private readonly resume = (): void => {
    this.blocked = false;
    this.loop.wake(this);
  };

  constructor(
    client: Client,
    template: PublishTemplate,
    settings: PublisherSettings,
    stats: WorkerStats,
    loop: PublishLoop,
  ) {
    assert(settings.qos === 0 || template.packetIdOffset > 0, "QoS 1/2 template needs an id");
    assert(settings.inflightCountMax >= 1 && settings.inflightCountMax <= 65_535, "inflight");
    this.client = client;
    this.template = template;
    this.settings = settings;
    this.stats = stats;
    this.loop = loop;
    const size = template.packet.length;
    this.batchCountMax = Math.max(
      1,
      Math.min(PUBLISH_BATCH_COUNT_MAX, Math.floor(PUBLISH_BATCH_BYTES_MAX / size)),
    );
    // Twice the window, so a free id is found in a step or two even with out-of-order acks.
    const idCount =
      settings.qos === 0 ? 0 : Math.min(65_535, Math.max(64, 2 * settings.inflightCountMax));
    this.idStates = new Uint8Array(idCount + 1);
    this.idSentMicros = new Float64Array(idCount + 1);
  }

  /** Starts sending; a paced publisher's first message is due at `startMs`. */
  begin(startMs: number): void {
    this.stopped = false;
    if (this.settings.ratePerSecond > 0)
      this.pacer = new Pacer(this.settings.ratePerSecond, startMs);
    this.checkDone();
  }

  stop(): void {
    this.stopped = true;
  }

  /**
   * Sends what may go now, in one write. Returns true when more could go at once (an unpaced
   * publisher whose window and socket still have room), so the loop should call again.
   */
  pump(nowMs: number, nowMicros: number): boolean {
    if (this.stopped || this.blocked || this.isDone) return false;
    if (this.client.state !== ClientState.CONNECTED) return false;
    let count = Math.min(this.batchCountMax, this.settings.messageCountMax - this.sentCount);
    if (this.settings.qos > 0)
      count = Math.min(count, this.settings.inflightCountMax - this.inflightCount);
    if (count > 0 && this.pacer !== null)
      count = Math.min(count, this.pacer.allowance(nowMs, this.sentCount));
    if (count <= 0) return false;
    const bytes = this.build(count, nowMicros);
    this.sentCount += count;
    this.stats.counters.sentCount += count;
    if (this.settings.qos > 0) this.inflightCount += count;
    else this.checkDone();
    if (!this.client.write(bytes)) {
      this.blocked = true;
      this.client.onDrain(this.resume);
      return false;
    }
    return this.pacer === null;
  }

  /** Milliseconds until the pacer lets the next message go (0 when unpaced). */
  delayMs(nowMs: number): number {
    return this.pacer === null ? 0 : this.pacer.delayMs(nowMs, this.sentCount);
  }

  /** The connection is gone: nothing more will be sent or acknowledged. */
  abandon(): void {
    this.stopped = true;
    if (!this.isDone) {
      this.isDone = true;
      this.loop.done(this);
    }
  }

  onPacket(packet: Packet): void {
    if (packet.type === "puback" || packet.type === "pubcomp") {
      this.complete(
        packet.packetId,
        packet.type === "puback" ? ID_SENT : ID_RELEASED,
        packet.reasonCode,
      );
    } else if (packet.type === "pubrec") {
      this.onPubrec(packet.packetId, packet.reasonCode);
    }
  }

  private build(count: number, nowMicros: number): Buffer {
    const template = this.template.packet;
    const size = template.length;
    const idOffset = this.template.packetIdOffset;
    const timestampOffset = this.template.timestampOffset;
    const bytes = Buffer.allocUnsafe(size * count);
    for (let i = 0; i < count; i++) {
      const at = i * size;
      template.copy(bytes, at);
      if (idOffset > 0) {
        const id = this.takeId(nowMicros);
        bytes[at + idOffset] = id >>> 8;
        bytes[at + idOffset + 1] = id & 0xff;
      }
      if (timestampOffset > 0) bytes.writeDoubleLE(nowMicros, at + timestampOffset);
    }
    return bytes;
  }

  private takeId(nowMicros: number): number {
    const states = this.idStates;
    const idCount = states.length - 1;
    for (let step = 0; step < idCount; step++) {
      const id = this.idNext;
      this.idNext = id === idCount ? 1 : id + 1;
      if (states[id] === ID_FREE) {
        states[id] = ID_SENT;
        this.idSentMicros[id] = nowMicros;
        return id;
      }
    }
    throw new Error("assertion failed: no free packet id although the window has room");
  }

  private onPubrec(id: number, reasonCode: number): void {
    if (this.idStates[id] !== ID_SENT) {
      this.stats.error("publish:unexpected pubrec");
      return;
    }
    if (reasonCode >= REASON_FAILURE_MIN) {
      // A failed PUBREC ends the flow: no PUBREL [MQTT-4.3.3].
      this.complete(id, ID_SENT, reasonCode);
      return;
    }
    this.idStates[id] = ID_RELEASED;
    this.client.queueAck(AckByte.PUBREL, id);
  }

  private complete(id: number, expected: number, reasonCode: number): void {
    if (id >= this.idStates.length || this.idStates[id] !== expected) {
      this.stats.error("publish:ack for an unknown packet id");
      return;
    }
    if (reasonCode >= REASON_FAILURE_MIN) {
      this.stats.error(`publish:ack ${reasonText(reasonCode, this.client.version)}`);
    }
    this.idStates[id] = ID_FREE;
    this.inflightCount--;
    this.ackedCount++;
    this.stats.counters.ackedCount++;
    recordMicros(this.stats.ackLatency, this.client.chunkMicros - this.idSentMicros[id]);
    if (!this.checkDone()) this.loop.wake(this);
  }

  /** Marks the publisher done once its count is sent and acknowledged; true if done. */
  private checkDone(): boolean {
    if (this.isDone) return true;
    if (this.sentCount < this.settings.messageCountMax || this.inflightCount > 0) return false;
    this.isDone = true;
    this.loop.done(this);
    return true;
  }
}
