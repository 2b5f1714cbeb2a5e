/**
 * Kafka topics on this node: one PartitionLog per partition in `<dir>/<topic>-<partition>/`, and
 * one metadata file per topic in `<dir>/topics/<topic>.json`, written atomically (temp file,
 * fsync, rename, fsync of the directory) so a crash leaves either the old or the new file.
 *
 * Order of effects, so that a crash at any point leaves a state the next start understands:
 * create opens the partition directories first and writes the metadata file last (a topic exists
 * once its file does); delete removes the metadata file first and the directories after. At start,
 * partition directories without a topic file are leftovers of such a crash and are removed.
 */
import { randomUUID } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm, unlink } from "node:fs/promises";
import { join } from "node:path";
import { assert } from "../../errors.ts";
import type { Logger } from "../../log/logger.ts";
import { type AppendOptions, type LogOptions, PartitionLog } from "../../storage/log/index.ts";
import { PartitionWaiters, partitionKey } from "./partition-waiters.ts";
import type { AlterationResult } from "./topic-config-changes.ts";
import { isCompacted, logOptionsFor, topicConfigProblem } from "./topic-configs.ts";

export interface TopicMetadata {
  name: string;
  /** Kafka's topic id: 16 random bytes, base64url (as Kafka prints it). */
  topicId: string;
  partitions: number;
  createdAtMs: number;
  configs: Record<string, string>;
}

export interface KafkaTopic {
  readonly metadata: TopicMetadata;
  readonly logs: readonly PartitionLog[];
}

const PARTITION_DIRECTORY = /^(.+)-(\d+)$/;
/**
 * Of metadata files being written (a topic's own file always ends in ".json"); earlier versions'
 * `<name>.json.tmp` leftovers match too.
 */
const TEMPORARY_SUFFIX = ".tmp";
/** Retention also runs on every roll; this catches logs that stopped receiving data. */
const RETENTION_INTERVAL_MS = 5 * 60 * 1000;
/**
 * How often compacted topics are offered a compaction pass (Kafka's cleaner backs off 15 s when
 * it finds nothing to do); a pass only runs when min.cleanable.dirty.ratio or a tombstone's
 * delete horizon says so, so an idle offer costs a look at segment sizes.
 */
export const COMPACTION_INTERVAL_MS = 15_000;

export class TopicStore {
  readonly directory: string;
  readonly waiters = new PartitionWaiters();
  readonly #topics = new Map<string, KafkaTopic>();
  readonly #logOptions: Partial<LogOptions>;
  readonly #logger: Logger;
  /** Creates and deletes run one at a time, so two auto-creates of one topic cannot race. */
  #adminQueue: Promise<unknown> = Promise.resolve();
  #retentionTimer: NodeJS.Timeout | null = null;
  #compactionTimer: NodeJS.Timeout | null = null;
  /** The pass under way, so passes never overlap and close can wait for it. */
  #compacting: Promise<void> | null = null;

  private constructor(directory: string, logOptions: Partial<LogOptions>, logger: Logger) {
    this.directory = directory;
    this.#logOptions = logOptions;
    this.#logger = logger;
  }

  static async open(
    directory: string,
    logOptions: Partial<LogOptions>,
    logger: Logger,
    compactionIntervalMs = COMPACTION_INTERVAL_MS,
  ): Promise<TopicStore> {
    const store = new TopicStore(directory, logOptions, logger);
    await mkdir(join(directory, "topics"), { recursive: true });
    await store.#load();
    store.#retentionTimer = setInterval(() => void store.#applyRetention(), RETENTION_INTERVAL_MS);
    store.#retentionTimer.unref();
    store.#compactionTimer = setInterval(() => void store.compact(), compactionIntervalMs);
    store.#compactionTimer.unref();
    return store;
  }

  /**
   * Offers every partition of every compacted topic a compaction pass (PartitionLog.compact),
   * one log at a time so the cleaner's reads and writes never pile up. A pass already under way
   * is joined rather than doubled. Failures are logged; the next offer retries.
   */
  compact(): Promise<void> {
    this.#compacting ??= this.#compactAll().finally(() => {
      this.#compacting = null;
    });
    return this.#compacting;
  }

  async #compactAll(): Promise<void> {
    for (const topic of [...this.#topics.values()]) {
      if (!isCompacted(topic.metadata.configs)) continue;
      for (const [partition, log] of topic.logs.entries()) {
        // Stop when the log is no longer the topic's (deleted); a topic replaced by a config
        // change or CreatePartitions keeps its logs, and this pass goes on with them.
        if (this.#topics.get(topic.metadata.name)?.logs[partition] !== log) break;
        try {
          const result = await log.compact();
          if (result.ran) {
            this.#logger.info(
              { topic: topic.metadata.name, directory: log.directory, ...result },
              "Kafka partition compacted",
            );
          }
        } catch (err) {
          this.#logger.error({ err, directory: log.directory }, "Kafka compaction failed");
        }
      }
    }
  }

  get(name: string): KafkaTopic | undefined {
    return this.#topics.get(name);
  }

  names(): string[] {
    return [...this.#topics.keys()].sort();
  }

  /** Appends one batch and wakes fetches waiting on the partition once it is readable. */
  async append(topic: KafkaTopic, partition: number, batch: Buffer, options: AppendOptions = {}) {
    const result = await topic.logs[partition].append(batch, options);
    this.waiters.notify(partitionKey(topic.metadata.name, partition));
    return result;
  }

  /** Creates the topic, or returns the existing one when `existing` is "reuse". */
  create(
    name: string,
    partitions: number,
    configs: Record<string, string>,
    existing: "reuse" | "fail",
  ): Promise<{ topic: KafkaTopic; created: boolean }> {
    return this.#serially(async () => {
      const found = this.#topics.get(name);
      if (found !== undefined) {
        if (existing === "reuse") return { topic: found, created: false };
        throw new TopicExistsError(name);
      }
      const metadata: TopicMetadata = {
        name,
        topicId: Buffer.from(randomUUID().replaceAll("-", ""), "hex").toString("base64url"),
        partitions,
        createdAtMs: Date.now(),
        configs,
      };
      const logs = await this.#createFiles(metadata);
      const topic = { metadata, logs };
      this.#topics.set(name, topic);
      this.#logger.info({ topic: name, partitions }, "Kafka topic created");
      return { topic, created: true };
    });
  }

  /**
   * Raises the topic's partition count (CreatePartitions). The new partitions' directories come
   * first, then the metadata file: a crash in between leaves directories the next start sweeps
   * up. The topic is replaced by a new KafkaTopic, so whoever follows the old one (the bridge)
   * sees the change; existing partitions keep their logs.
   */
  addPartitions(name: string, count: number): Promise<KafkaTopic> {
    return this.#serially(async () => {
      const found = this.#topics.get(name);
      if (found === undefined) throw new UnknownTopicError(name);
      const from = found.metadata.partitions;
      assert(count > from, "a partition count only grows");
      const metadata: TopicMetadata = { ...found.metadata, partitions: count };
      const options = logOptionsFor(this.#logOptions, metadata.configs);
      let added: PartitionLog[] = [];
      try {
        added = await this.#openPartitions(metadata.name, from, count, options);
        await this.#writeMetadata(metadata);
      } catch (err) {
        await Promise.all(added.map((log) => log.close().catch(() => {})));
        await Promise.all(
          Array.from({ length: count - from }, (_, i) =>
            rm(this.#partitionDirectory(name, from + i), { recursive: true, force: true }),
          ),
        ).catch(() => {});
        this.#logger.warn({ err, topic: name }, "adding Kafka partitions failed; removed");
        throw err;
      }
      const topic = { metadata, logs: [...found.logs, ...added] };
      this.#topics.set(name, topic);
      this.#logger.info({ topic: name, from, partitions: count }, "Kafka topic partitions added");
      return topic;
    });
  }

  /**
   * Gives the topic the configs `change` makes of its current ones (AlterConfigs,
   * IncrementalAlterConfigs). `change` runs in the admin queue, so two alterations of one topic
   * never lose each other's changes; when it refuses, nothing is written. The metadata file is
   * written first, atomically as at create: once this resolves the new configs survive a
   * crash. Then every partition log takes its new options at once (PartitionLog.reconfigure),
   * and the topic is replaced by a new KafkaTopic with the same logs, so whoever follows the
   * old one (the bridge) sees the change, as after addPartitions.
   */
  reconfigure(
    name: string,
    change: (current: Readonly<Record<string, string>>) => AlterationResult,
  ): Promise<{ before: Readonly<Record<string, string>>; result: AlterationResult }> {
    return this.#serially(async () => {
      const found = this.#topics.get(name);
      if (found === undefined) throw new UnknownTopicError(name);
      const before = found.metadata.configs;
      const result = change(before);
      if (!result.ok) return { before, result };
      assert(topicConfigProblem(result.configs) === null, "altered configs are validated");
      const metadata: TopicMetadata = { ...found.metadata, configs: { ...result.configs } };
      const options = logOptionsFor(this.#logOptions, metadata.configs);
      await this.#writeMetadata(metadata);
      for (const log of found.logs) log.reconfigure(options);
      this.#topics.set(name, { metadata, logs: found.logs });
      return { before, result };
    });
  }

  /** Deletes the topic and its data; false when there is no such topic. */
  delete(name: string): Promise<boolean> {
    return this.#serially(async () => {
      const topic = this.#topics.get(name);
      if (topic === undefined) return false;
      this.#topics.delete(name);
      await this.#compacting;
      await unlink(this.#metadataFile(name));
      await this.#syncDirectory(join(this.directory, "topics"));
      for (let p = 0; p < topic.logs.length; p++) {
        this.waiters.notify(partitionKey(name, p));
      }
      await Promise.all(topic.logs.map((log) => log.close().catch(() => {})));
      await Promise.all(
        topic.logs.map((log) => rm(log.directory, { recursive: true, force: true })),
      );
      this.#logger.info({ topic: name }, "Kafka topic deleted");
      return true;
    });
  }

  async close(): Promise<void> {
    if (this.#retentionTimer !== null) clearInterval(this.#retentionTimer);
    if (this.#compactionTimer !== null) clearInterval(this.#compactionTimer);
    this.waiters.notifyAll();
    await this.#compacting;
    await this.#adminQueue.catch(() => {});
    const logs = [...this.#topics.values()].flatMap((topic) => topic.logs);
    this.#topics.clear();
    await Promise.all(logs.map((log) => log.close().catch(() => {})));
  }

  #serially<T>(run: () => Promise<T>): Promise<T> {
    const next = this.#adminQueue.then(run, run);
    this.#adminQueue = next.catch(() => {});
    return next;
  }

  async #load(): Promise<void> {
    const topicsDirectory = join(this.directory, "topics");
    for (const file of (await readdir(topicsDirectory)).sort()) {
      if (file.endsWith(TEMPORARY_SUFFIX)) {
        // A metadata write cut short by a crash: the topic's file is the old one or none.
        await rm(join(topicsDirectory, file), { force: true });
        continue;
      }
      if (!file.endsWith(".json")) continue;
      const metadata = JSON.parse(
        await readFile(join(topicsDirectory, file), "utf8"),
      ) as TopicMetadata;
      const logs = await this.#openLogs(metadata);
      this.#topics.set(metadata.name, { metadata, logs });
    }
    for (const entry of await readdir(this.directory)) {
      const match = PARTITION_DIRECTORY.exec(entry);
      if (match === null) continue;
      const topic = this.#topics.get(match[1]);
      if (topic !== undefined && Number(match[2]) < topic.metadata.partitions) continue;
      this.#logger.warn({ directory: entry }, "removing Kafka partition directory of no topic");
      await rm(join(this.directory, entry), { recursive: true, force: true });
    }
    this.#logger.info({ topics: this.#topics.size }, "Kafka topics loaded");
  }

  /**
   * The partition directories, then the metadata file; a failure on the way removes what was
   * made, so a refused create leaves no directories for the next start to sweep up and does not
   * stand in the way of a retry.
   */
  async #createFiles(metadata: TopicMetadata): Promise<PartitionLog[]> {
    let logs: PartitionLog[] = [];
    try {
      logs = await this.#openLogs(metadata);
      await this.#writeMetadata(metadata);
      return logs;
    } catch (err) {
      await Promise.all(logs.map((log) => log.close().catch(() => {})));
      await Promise.all(
        Array.from({ length: metadata.partitions }, (_, p) =>
          rm(this.#partitionDirectory(metadata.name, p), { recursive: true, force: true }),
        ),
      ).catch(() => {});
      this.#logger.warn({ err, topic: metadata.name }, "Kafka topic creation failed; removed");
      throw err;
    }
  }

  #partitionDirectory(name: string, partition: number): string {
    return join(this.directory, `${name}-${partition}`);
  }

  #openLogs(metadata: TopicMetadata): Promise<PartitionLog[]> {
    const options = logOptionsFor(this.#logOptions, metadata.configs);
    return this.#openPartitions(metadata.name, 0, metadata.partitions, options);
  }

  /** Partitions [from, to) of a topic; all or none (the opened ones are closed on a failure). */
  async #openPartitions(
    name: string,
    from: number,
    to: number,
    options: Partial<LogOptions>,
  ): Promise<PartitionLog[]> {
    const logger = this.#logger;
    const opened = await Promise.allSettled(
      Array.from({ length: to - from }, (_, i) =>
        PartitionLog.open(this.#partitionDirectory(name, from + i), options, { logger }),
      ),
    );
    const logs = opened.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const failed = opened.find((r) => r.status === "rejected");
    if (failed !== undefined) {
      await Promise.all(logs.map((log) => log.close().catch(() => {})));
      throw failed.reason;
    }
    return logs;
  }

  #metadataFile(name: string): string {
    return join(this.directory, "topics", `${name}.json`);
  }

  /**
   * Written under a short temporary name, not `<name>.json.tmp`: a name of 247-249 characters
   * (Kafka allows 249) plus ".json.tmp" is past the 255 bytes a file name may have, while
   * `<name>.json` fits.
   */
  async #writeMetadata(metadata: TopicMetadata): Promise<void> {
    const file = this.#metadataFile(metadata.name);
    const temporary = join(this.directory, "topics", `${randomUUID()}${TEMPORARY_SUFFIX}`);
    try {
      const handle = await open(temporary, "w");
      try {
        await handle.writeFile(`${JSON.stringify(metadata, null, 2)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, file);
    } catch (err) {
      await rm(temporary, { force: true }).catch(() => {});
      throw err;
    }
    await this.#syncDirectory(join(this.directory, "topics"));
  }

  async #syncDirectory(directory: string): Promise<void> {
    const handle = await open(directory, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async #applyRetention(): Promise<void> {
    for (const topic of this.#topics.values()) {
      for (const log of topic.logs) {
        await log.applyRetention().catch((err: unknown) => {
          this.#logger.error({ err, directory: log.directory }, "Kafka retention failed");
        });
      }
    }
  }
}

export class UnknownTopicError extends Error {
  constructor(name: string) {
    super(`topic "${name}" does not exist`);
    this.name = "UnknownTopicError";
  }
}

export class TopicExistsError extends Error {
  constructor(name: string) {
    super(`topic "${name}" already exists`);
    this.name = "TopicExistsError";
  }
}
