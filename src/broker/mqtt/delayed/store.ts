/**
 * Where waiting delayed messages are kept whole (payload and properties): in memory, or with
 * mqtt_persistence on, in their own LMDB environment at `<data_dir>/mqtt/delayed`, so that
 * they survive a restart or a `kill -9`. The schedule holds only a DelayedEntry per message;
 * the payload is read back from here when the message is due.
 */
import { mkdirSync } from "node:fs";
import type { Database, RootDatabase } from "lmdb";
import { assert } from "../../../errors.ts";
import type { QoS } from "../../../protocol/mqtt/constants.ts";
import type { Properties } from "../../../protocol/mqtt/packets.ts";
import { lmdbWrite, openLmdb } from "../../../storage/lmdb-writes.ts";
import type { DelayedEntry } from "./schedule.ts";

/** A waiting message as stored. */
export interface DelayedRecord {
  readonly id: number;
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  /** Forwarded v5 properties (never Topic Alias or Message Expiry Interval). */
  readonly properties: Properties | undefined;
  readonly expiresAtMs: number;
  readonly publishedAtMs: number;
  readonly dueAtMs: number;
  readonly origin: string;
}

export interface DelayedStore {
  /** Every stored record, any order; returns the id to continue from (above every one used). */
  load(each: (record: DelayedRecord) => void): number;
  /** Stores a record; null when it is kept at once (memory), else resolves once durable. */
  put(record: DelayedRecord, nextId: number): Promise<void> | null;
  get(id: number): DelayedRecord | undefined;
  /** Forgets a record; null when done at once. */
  remove(id: number): Promise<void> | null;
  close(): Promise<void>;
}

export function entryOf(record: DelayedRecord): DelayedEntry {
  return {
    id: record.id,
    topic: record.topic,
    qos: record.qos,
    retain: record.retain,
    payloadBytes: record.payload.length,
    publishedAtMs: record.publishedAtMs,
    dueAtMs: record.dueAtMs,
    expiresAtMs: record.expiresAtMs,
    origin: record.origin,
  };
}

/** mqtt_persistence off: the messages live (and die) with the process. */
export class MemoryDelayedStore implements DelayedStore {
  readonly #records = new Map<number, DelayedRecord>();

  load(): number {
    return 1;
  }

  put(record: DelayedRecord): null {
    assert(!this.#records.has(record.id), `delayed record ${record.id} stored twice`);
    this.#records.set(record.id, record);
    return null;
  }

  get(id: number): DelayedRecord | undefined {
    return this.#records.get(id);
  }

  remove(id: number): null {
    this.#records.delete(id);
    return null;
  }

  async close(): Promise<void> {
    this.#records.clear();
  }
}

const NEXT_ID_KEY = "nextId";

/**
 * One LMDB environment of its own (not the sessions' checkpoint): a message is stored and
 * removed on its own schedule, not with checkpoints. Every awaited write goes through
 * lmdbWrite, so a failed commit (disk full) fails that write instead of the process.
 */
export class LmdbDelayedStore implements DelayedStore {
  readonly #env: RootDatabase;
  readonly #messages: Database<DelayedRecord, number>;
  /** The next id, so that an id is never used twice (even the highest, once deleted). */
  readonly #meta: Database<number, string>;
  /** fsync_policy "always": a write counts once flushed to disk, not only committed. */
  readonly #flushEachWrite: boolean;

  private constructor(env: RootDatabase, flushEachWrite: boolean) {
    this.#env = env;
    this.#messages = env.openDB<DelayedRecord, number>({ name: "messages" });
    this.#meta = env.openDB<number, string>({ name: "meta" });
    this.#flushEachWrite = flushEachWrite;
  }

  static open(path: string, flushEachWrite: boolean): LmdbDelayedStore {
    mkdirSync(path, { recursive: true });
    return new LmdbDelayedStore(openLmdb({ path, maxDbs: 4 }), flushEachWrite);
  }

  load(each: (record: DelayedRecord) => void): number {
    let nextId = this.#meta.get(NEXT_ID_KEY) ?? 1;
    for (const { key, value } of this.#messages.getRange()) {
      assert(key === value.id, "a delayed record is stored under its id");
      // msgpack gives back a Uint8Array view; the broker writes Buffers.
      const payload = Buffer.isBuffer(value.payload) ? value.payload : Buffer.from(value.payload);
      each({ ...value, payload });
      if (key >= nextId) nextId = key + 1;
    }
    return nextId;
  }

  async put(record: DelayedRecord, nextId: number): Promise<void> {
    assert(nextId > record.id, "the next id is above the stored one");
    await lmdbWrite(
      this.#env.transaction(() => {
        void this.#messages.put(record.id, record);
        void this.#meta.put(NEXT_ID_KEY, nextId);
      }),
    );
    if (this.#flushEachWrite) await lmdbWrite(this.#env.flushed);
  }

  get(id: number): DelayedRecord | undefined {
    const record = this.#messages.get(id);
    if (record === undefined || Buffer.isBuffer(record.payload)) return record;
    return { ...record, payload: Buffer.from(record.payload) };
  }

  async remove(id: number): Promise<void> {
    await lmdbWrite(this.#messages.remove(id));
    if (this.#flushEachWrite) await lmdbWrite(this.#env.flushed);
  }

  async close(): Promise<void> {
    await this.#env.close();
  }
}
