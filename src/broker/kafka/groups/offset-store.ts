/**
 * Committed consumer offsets, and the producer id counter, in an LMDB environment at
 * `<data_dir>/kafka/groups.lmdb` (docs/kafka.md, "Where the data lives"). LMDB rather than an
 * internal `__consumer_offsets` log: a commit overwrites in place, so nothing needs compacting,
 * and a whole OffsetCommit is one atomic transaction. Every value is also kept in memory, so
 * OffsetFetch never touches the disk. A commit is answered once LMDB reports it flushed.
 */
import { join } from "node:path";
import type { Database, RootDatabase } from "lmdb";
import { lmdbWrite, openLmdb } from "../../../storage/lmdb-writes.ts";

export interface CommittedOffset {
  offset: bigint;
  leaderEpoch: number;
  metadata: string | null;
  commitTimestampMs: number;
}

export interface OffsetCommitEntry {
  topic: string;
  partition: number;
  value: CommittedOffset;
}

type StoredKey = [string, string, number];
interface StoredOffset {
  offset: string;
  leaderEpoch: number;
  metadata: string | null;
  commitTimestampMs: number;
}

const PRODUCER_ID_KEY = "next-producer-id";

export class OffsetStore {
  readonly #env: RootDatabase;
  readonly #offsets: Database<StoredOffset, StoredKey>;
  readonly #meta: Database<string, string>;
  /** group -> topic -> partition -> offset */
  readonly #cache = new Map<string, Map<string, Map<number, CommittedOffset>>>();
  #nextProducerId: bigint;

  private constructor(env: RootDatabase) {
    this.#env = env;
    this.#offsets = env.openDB<StoredOffset, StoredKey>({ name: "offsets" });
    this.#meta = env.openDB<string, string>({ name: "meta" });
    for (const { key, value } of this.#offsets.getRange()) {
      this.#remember(key[0], key[1], key[2], {
        offset: BigInt(value.offset),
        leaderEpoch: value.leaderEpoch,
        metadata: value.metadata,
        commitTimestampMs: value.commitTimestampMs,
      });
    }
    this.#nextProducerId = BigInt(this.#meta.get(PRODUCER_ID_KEY) ?? "0");
  }

  static open(kafkaDirectory: string): OffsetStore {
    return new OffsetStore(openLmdb({ path: join(kafkaDirectory, "groups.lmdb"), maxDbs: 4 }));
  }

  get(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.#cache.get(groupId)?.get(topic)?.get(partition);
  }

  /** Ids of the groups with committed offsets. */
  groupIds(): string[] {
    return [...this.#cache.keys()];
  }

  /** Every committed offset of the group, by topic. */
  topicsOf(groupId: string): ReadonlyMap<string, ReadonlyMap<number, CommittedOffset>> {
    return this.#cache.get(groupId) ?? new Map();
  }

  /** Stores the entries atomically; resolves once they are on disk. */
  async commit(groupId: string, entries: readonly OffsetCommitEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await lmdbWrite(
      this.#env.transaction(() => {
        for (const { topic, partition, value } of entries) {
          void this.#offsets.put([groupId, topic, partition], {
            offset: value.offset.toString(),
            leaderEpoch: value.leaderEpoch,
            metadata: value.metadata,
            commitTimestampMs: value.commitTimestampMs,
          });
        }
      }),
    );
    await lmdbWrite(this.#env.flushed);
    for (const { topic, partition, value } of entries) {
      this.#remember(groupId, topic, partition, value);
    }
  }

  /** Forgets every group's offsets for a deleted topic, as Kafka does. */
  async deleteTopic(topic: string): Promise<void> {
    const doomed: StoredKey[] = [];
    for (const [groupId, topics] of this.#cache) {
      const partitions = topics.get(topic);
      if (partitions === undefined) continue;
      for (const partition of partitions.keys()) doomed.push([groupId, topic, partition]);
      topics.delete(topic);
    }
    if (doomed.length === 0) return;
    await this.#removeDurably(doomed);
  }

  /**
   * Forgets the offsets of every topic `exists` denies; returns those topics. At start: a crash
   * between a topic's deletion and its offsets' leaves them, and a topic created later under
   * the same name would be read from them.
   */
  async deleteTopicsOtherThan(exists: (topic: string) => boolean): Promise<string[]> {
    const gone = new Set<string>();
    for (const topics of this.#cache.values()) {
      for (const topic of topics.keys()) if (!exists(topic)) gone.add(topic);
    }
    for (const topic of gone) await this.deleteTopic(topic);
    return [...gone];
  }

  /** Removes every offset the group committed (DeleteGroups); false when it had none. */
  async deleteGroup(groupId: string): Promise<boolean> {
    const topics = this.#cache.get(groupId);
    if (topics === undefined) return false;
    this.#cache.delete(groupId);
    const doomed: StoredKey[] = [];
    for (const [topic, partitions] of topics) {
      for (const partition of partitions.keys()) doomed.push([groupId, topic, partition]);
    }
    await this.#removeDurably(doomed);
    return true;
  }

  /** Removes the group's offsets of these partitions (OffsetDelete). */
  async deletePartitions(
    groupId: string,
    partitions: readonly { topic: string; partition: number }[],
  ): Promise<void> {
    const topics = this.#cache.get(groupId);
    if (topics === undefined) return;
    const doomed: StoredKey[] = [];
    for (const { topic, partition } of partitions) {
      const committed = topics.get(topic);
      if (committed === undefined || !committed.delete(partition)) continue;
      if (committed.size === 0) topics.delete(topic);
      doomed.push([groupId, topic, partition]);
    }
    if (topics.size === 0) this.#cache.delete(groupId);
    if (doomed.length === 0) return;
    await this.#removeDurably(doomed);
  }

  /**
   * A producer id never handed out before, on this node, across restarts: the counter is
   * durable before the id is returned.
   */
  async allocateProducerId(): Promise<bigint> {
    const id = this.#nextProducerId;
    this.#nextProducerId += 1n;
    await lmdbWrite(this.#meta.put(PRODUCER_ID_KEY, this.#nextProducerId.toString()));
    await lmdbWrite(this.#env.flushed);
    return id;
  }

  /**
   * Removes every offset of the groups `expirable` accepts (those without members) whose
   * newest commit is older than `retentionMs`, as Kafka's offsets.retention.minutes does for
   * empty groups. Returns the ids of the groups removed.
   */
  async expire(
    nowMs: number,
    retentionMs: number,
    expirable: (groupId: string) => boolean,
  ): Promise<string[]> {
    const expired: string[] = [];
    const doomed: StoredKey[] = [];
    for (const [groupId, topics] of this.#cache) {
      let newestMs = 0;
      for (const partitions of topics.values()) {
        for (const value of partitions.values()) {
          if (value.commitTimestampMs > newestMs) newestMs = value.commitTimestampMs;
        }
      }
      if (nowMs - newestMs < retentionMs || !expirable(groupId)) continue;
      expired.push(groupId);
      for (const [topic, partitions] of topics) {
        for (const partition of partitions.keys()) doomed.push([groupId, topic, partition]);
      }
    }
    if (doomed.length === 0) return expired;
    await this.#removeDurably(doomed);
    for (const groupId of expired) this.#cache.delete(groupId);
    return expired;
  }

  async close(): Promise<void> {
    await this.#env.close();
  }

  /** Removes the keys in one transaction; resolves once that is on disk. */
  async #removeDurably(keys: readonly StoredKey[]): Promise<void> {
    await lmdbWrite(
      this.#env.transaction(() => {
        for (const key of keys) void this.#offsets.remove(key);
      }),
    );
    await lmdbWrite(this.#env.flushed);
  }

  #remember(groupId: string, topic: string, partition: number, value: CommittedOffset): void {
    let topics = this.#cache.get(groupId);
    if (topics === undefined) {
      topics = new Map();
      this.#cache.set(groupId, topics);
    }
    let partitions = topics.get(topic);
    if (partitions === undefined) {
      partitions = new Map();
      topics.set(topic, partitions);
    }
    partitions.set(partition, value);
  }
}
