/**
 * Durable MQTT state on disk, under data_dir/mqtt:
 *
 *   log/    a partition log (src/storage/log) of application messages and session state
 *           changes, one record batch per event-loop turn (appender.ts), group-committed
 *           under the configured fsync policy;
 *   state/  an LMDB environment holding the last checkpoint: every persistent session (its
 *           deliveries as log offsets), retained messages, and the log offset it covers.
 *
 * The log is the source of truth. Whatever must hold before an acknowledgement (a message
 * before PUBACK/PUBREC, a subscription before SUBACK, a QoS 2 packet id before the PUBLISH or
 * PUBREL that uses it) is appended and awaited. Everything else a session does (deliveries
 * acknowledged, queue order) reaches disk with the next checkpoint, so a crash can at worst
 * resend QoS 1 messages acknowledged since then. At start: load the checkpoint, replay the log
 * after it (image.ts), then write a fresh checkpoint.
 */
import { join } from "node:path";
import type { Database, RootDatabase } from "lmdb";
import type { Config } from "../../../config/schema.ts";
import type { Logger } from "../../../log/logger.ts";
import { lmdbWrite, openLmdb } from "../../../storage/lmdb-writes.ts";
import { PartitionLog } from "../../../storage/log/index.ts";
import { Message } from "../message.ts";
import { type Delivery, DeliveryState, type Session } from "../session.ts";
import { LogAppender } from "./appender.ts";
import { mqttLogBatchOptions } from "./batch-limits.ts";
import {
  DurableImage,
  type RetainedImage,
  type SessionImage,
  type StoredDelivery,
} from "./image.ts";
import { fetchOffsets, scanLog } from "./log-reader.ts";
import {
  changeRecord,
  decodeEntry,
  type MessageMeta,
  messageRecord,
  type StateChange,
  type StoredSubscription,
  storedSubscription,
} from "./records.ts";

/** The live state a checkpoint copies. */
export interface CheckpointSource {
  session(clientId: string): Session | undefined;
  retained(topic: string): Message | undefined;
}

export interface Recovered {
  image: DurableImage;
  /** The messages the image's deliveries refer to, by log offset. */
  messages: Map<number, Message>;
}

const APPLIED_KEY = "applied";

export class MqttPersistence {
  readonly log: PartitionLog;
  readonly #appender: LogAppender;
  readonly #env: RootDatabase;
  readonly #sessions: Database<SessionImage, string>;
  readonly #retained: Database<RetainedImage, string>;
  readonly #meta: Database<number, string>;
  readonly #logger: Logger;
  #source: CheckpointSource | null = null;
  #dirtySessions = new Set<string>();
  #droppedSessions = new Set<string>();
  #dirtyRetained = new Set<string>();
  /** Lowest log offset each checkpointed session refers to. */
  readonly #lowestOffsets = new Map<string, number>();
  #checkpointing: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  /** The last checkpoint written: when, and the log offset replay would start from. */
  lastCheckpoint: { atMs: number; fromOffset: number } | null = null;

  private constructor(log: PartitionLog, env: RootDatabase, logger: Logger) {
    this.log = log;
    this.#appender = new LogAppender(log);
    this.#env = env;
    this.#sessions = env.openDB<SessionImage, string>({ name: "sessions" });
    this.#retained = env.openDB<RetainedImage, string>({ name: "retained" });
    this.#meta = env.openDB<number, string>({ name: "meta" });
    this.#logger = logger;
  }

  /** Opens (creating if needed) the state under `config.data_dir`/mqtt and recovers it. */
  static async open(
    config: Config,
    logger: Logger,
  ): Promise<{ persistence: MqttPersistence } & Recovered> {
    const settings = config.mqtt_persistence;
    const dir = join(config.data_dir, "mqtt");
    const log = await PartitionLog.open(
      join(dir, "log"),
      {
        fsync_policy: settings.fsync_policy,
        fsync_interval_ms: settings.fsync_interval_ms,
        segment_bytes: settings.segment_bytes,
        // A message of max_packet_size in a batch of its own (the config checks it fits a segment).
        ...mqttLogBatchOptions(config.mqtt_protocol_config.max_packet_size),
        // Segments go when no session needs them (deleteBefore), not by size or age.
        retention_bytes: -1,
        retention_ms: -1,
      },
      { logger },
    );
    const env = openLmdb({ path: join(dir, "state") });
    const persistence = new MqttPersistence(log, env, logger);
    const recovered = await persistence.#recover();
    return { persistence, ...recovered };
  }

  async #recover(): Promise<Recovered> {
    const started = Date.now();
    const sessions = [...this.#sessions.getRange().map(({ value }) => value)];
    const retained = [...this.#retained.getRange().map(({ value }) => value)];
    const image = DurableImage.fromCheckpoint(sessions, retained);
    let applied = this.#meta.get(APPLIED_KEY) ?? 0;
    if (applied > this.log.logEndOffset) {
      this.#logger.warn(
        { checkpoint: applied, logEnd: this.log.logEndOffset },
        "message log ends before the checkpoint: replaying from its end",
      );
      applied = this.log.logEndOffset;
    }
    let replayed = 0;
    await scanLog(this.log, applied, (record) => {
      const entry = decodeEntry(record);
      if (entry === null) return;
      if (entry.kind === "message") {
        // Replay keeps views of a large read buffer only where it must.
        entry.payload = Buffer.from(entry.payload);
      }
      image.apply(entry);
      replayed++;
    });
    const messages = new Map<number, Message>();
    let missing = 0;
    await fetchOffsets(
      this.log,
      image.referencedOffsets(),
      (record) => {
        const entry = decodeEntry(record);
        if (entry?.kind !== "message") return;
        messages.set(
          entry.offset,
          storedMessage(entry.topic, Buffer.from(entry.payload), entry.meta, entry.offset),
        );
      },
      () => missing++,
    );
    this.#logger.info(
      {
        sessions: image.sessions.size,
        retained: image.retained.size,
        messages: messages.size,
        missing,
        replayedRecords: replayed,
        fromOffset: applied,
        logEnd: this.log.logEndOffset,
        ms: Date.now() - started,
      },
      "MQTT state recovered",
    );
    return { image, messages };
  }

  /** Starts periodic checkpoints of what `source` holds. */
  start(source: CheckpointSource, intervalMs: number): void {
    this.#source = source;
    this.#timer = setInterval(() => {
      void this.checkpoint().catch((err: unknown) => {
        this.#logger.error(
          { err },
          "checkpoint failed; the log keeps everything until one succeeds",
        );
      });
    }, intervalMs);
    this.#timer.unref();
  }

  // ---- what the broker records --------------------------------------------------------

  /** Records (messages and state changes) whose append failed: exposed as a metric. */
  get failedAppends(): number {
    return this.#appender.failedRecords;
  }

  /**
   * Appends a message with this turn's batch. The promise (also `message.stored`, shared by
   * the batch's messages) resolves once it is durable; `message.logOffset` is set by then.
   */
  storeMessage(
    message: Message,
    inboundPacketId: number,
    shares: Array<[string, string]> | null,
    retainRefused = false,
  ): Promise<void> {
    const meta: MessageMeta = {
      q: message.qos,
      r: message.retain,
      x: message.expiresAtMs,
      o: message.origin,
    };
    if (retainRefused) meta.n = true;
    if (message.properties !== undefined) meta.p = message.properties;
    if (inboundPacketId !== 0) meta.i = inboundPacketId;
    if (shares !== null) meta.s = shares;
    const record = messageRecord(message.topic, message.payload, meta, Date.now());
    const size = (record.key as Buffer).length + message.payload.length;
    const stored = this.#appender.add(record, size, message).done;
    message.stored = stored;
    return stored;
  }

  /** Appends a session state change with this turn's batch; resolves with its offset once durable. */
  record(change: StateChange): Promise<number> {
    const record = changeRecord(change, Date.now());
    const batch = this.#appender.add(record, (record.value as Buffer).length, null);
    const index = batch.records.length - 1;
    return batch.done.then(() => batch.baseOffset + index);
  }

  /** The session's deliveries or subscriptions changed: the next checkpoint copies it. */
  touch(session: Session): void {
    if (session.persistedExpiryS > 0) this.#dirtySessions.add(session.clientId);
  }

  /**
   * Brings the log in line with the session's expiry interval: a session that is to outlive
   * its connection is recorded, one that no longer is is dropped.
   */
  syncSession(session: Session): void {
    const expiryS = session.expiryIntervalS;
    if (expiryS === session.persistedExpiryS) return;
    const clientId = session.clientId;
    if (expiryS === 0) {
      void this.record({ t: "drop", c: clientId }).catch(() => {});
      this.#dirtySessions.delete(clientId);
      this.#droppedSessions.add(clientId);
    } else {
      void this.record({ t: "session", c: clientId, e: expiryS }).catch(() => {});
      this.#dirtySessions.add(clientId);
    }
    session.persistedExpiryS = expiryS;
  }

  retainedChanged(topic: string): void {
    this.#dirtyRetained.add(topic);
  }

  // ---- checkpoints --------------------------------------------------------------------

  /** Writes every changed session and retained message, then frees log segments. */
  checkpoint(): Promise<void> {
    this.#checkpointing ??= this.#checkpoint().finally(() => {
      this.#checkpointing = null;
    });
    return this.#checkpointing;
  }

  async #checkpoint(): Promise<void> {
    const source = this.#source;
    if (source === null) return;
    const dirty = this.#dirtySessions;
    const dropped = this.#droppedSessions;
    const dirtyRetained = this.#dirtyRetained;
    this.#dirtySessions = new Set();
    this.#droppedSessions = new Set();
    this.#dirtyRetained = new Set();
    // Copied in the same turn as the marker is appended: the copy is the state after
    // exactly the records before the marker, which is where the next replay starts.
    const captured: CapturedSession[] = [];
    for (const clientId of dirty) {
      const session = source.session(clientId);
      if (session !== undefined && session.persistedExpiryS > 0) captured.push(capture(session));
      else dropped.add(clientId);
    }
    const retained = [...dirtyRetained].map((topic) => ({
      topic,
      message: source.retained(topic),
    }));
    let marker: number;
    try {
      marker = await this.record({ t: "checkpoint" });
      // Every message appended before the marker now has its offset.
      await this.#commit(dropped, captured.map(toImage), retained, marker + 1);
    } catch (err) {
      // Not in LMDB: the next checkpoint copies them again (replay still starts before them).
      for (const c of dirty) this.#dirtySessions.add(c);
      for (const c of dropped) this.#droppedSessions.add(c);
      for (const t of dirtyRetained) this.#dirtyRetained.add(t);
      throw err;
    }
    this.lastCheckpoint = { atMs: Date.now(), fromOffset: marker + 1 };
    let keepFrom = marker;
    for (const offset of this.#lowestOffsets.values()) if (offset < keepFrom) keepFrom = offset;
    await this.log.deleteBefore(keepFrom);
  }

  /** One LMDB transaction; the lowest offsets change only once it is on disk. */
  async #commit(
    dropped: ReadonlySet<string>,
    images: readonly SessionImage[],
    retained: readonly { topic: string; message: Message | undefined }[],
    applied: number,
  ): Promise<void> {
    await lmdbWrite(
      this.#env.transaction(() => {
        for (const clientId of dropped) void this.#sessions.remove(clientId);
        for (const image of images) void this.#sessions.put(image.c, image);
        for (const { topic, message } of retained) {
          if (message === undefined) void this.#retained.remove(topic);
          else void this.#retained.put(topic, retainedImage(message));
        }
        void this.#meta.put(APPLIED_KEY, applied);
      }),
    );
    await lmdbWrite(this.#env.flushed);
    for (const clientId of dropped) this.#lowestOffsets.delete(clientId);
    for (const image of images) {
      let lowest = Infinity;
      for (const d of image.deliveries) if (d.o < lowest) lowest = d.o;
      if (lowest === Infinity) this.#lowestOffsets.delete(image.c);
      else this.#lowestOffsets.set(image.c, lowest);
    }
  }

  /** Final checkpoint, then closes the log and the environment. */
  async close(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    try {
      await this.checkpoint();
    } finally {
      this.#appender.flush(); // anything recorded since the marker: appended before the close
      await this.log.close();
      await this.#env.close();
    }
  }
}

interface CapturedDelivery {
  message: Message;
  delivery: Delivery;
}

interface CapturedSession {
  image: SessionImage;
  deliveries: CapturedDelivery[];
}

/** A copy of what a checkpoint keeps; the counts spare idle sessions their collections. */
function capture(session: Session): CapturedSession {
  const deliveries: CapturedDelivery[] = [];
  if (session.inflightCount > 0) {
    for (const d of session.inflight.values()) {
      deliveries.push({ message: d.message, delivery: { ...d } });
    }
  }
  if (session.queueLength > 0) {
    for (const d of session.queue) deliveries.push({ message: d.message, delivery: d });
  }
  const subs: StoredSubscription[] = [];
  for (const s of session.subscriptionValues()) subs.push(storedSubscription(s));
  return {
    image: {
      c: session.clientId,
      e: session.expiryIntervalS,
      d: session.link === null ? session.disconnectedAtMs : 0,
      subs,
      deliveries: [],
      inbound: session.inboundQos2Count > 0 ? [...session.inboundQos2] : [],
    },
    deliveries,
  };
}

function toImage(captured: CapturedSession): SessionImage {
  const deliveries: StoredDelivery[] = [];
  for (const { message, delivery } of captured.deliveries) {
    if (message.logOffset < 0) continue; // its append failed, or it never needed the log
    // Every delivery in flight keeps its packet id and place, so that a restart resends it
    // first, in order and with DUP [MQTT-4.6.0-1, MQTT-3.3.1-1]. For QoS 1 only the checkpoint
    // knows this (the log has no record per QoS 1 send: that would be a write per delivery).
    const keepsId = delivery.state !== DeliveryState.QUEUED;
    deliveries.push({
      o: message.logOffset,
      q: delivery.qos,
      r: delivery.retain,
      ids: delivery.subscriptionIds,
      p: keepsId ? delivery.packetId : 0,
      s: keepsId ? delivery.state : DeliveryState.QUEUED,
    });
  }
  return { ...captured.image, deliveries };
}

function retainedImage(message: Message): RetainedImage {
  const meta: MessageMeta = { q: message.qos, r: true, x: message.expiresAtMs, o: message.origin };
  if (message.properties !== undefined) meta.p = message.properties;
  return { topic: message.topic, payload: message.payload, meta };
}

/** A message read back from the log or a checkpoint. */
export function storedMessage(
  topic: string,
  payload: Buffer,
  meta: MessageMeta,
  offset: number,
): Message {
  const message = new Message(topic, payload, meta.q, meta.r, meta.p, meta.x, meta.o);
  message.logOffset = offset;
  return message;
}
