/**
 * One consumer: its own connection and a fixed set of partitions (by assignment, no group),
 * one Fetch at a time over all of them, long-polling the broker; the next one goes out as soon
 * as an answer's batch headers give the new offsets, before its records are walked. It counts the records at or
 * after its offsets and times those carrying the bench header. It is done when it has read
 * --count records, or, when not following, once every partition is read up to the end it had
 * at set-up (--passes times: each pass starts again from where the first began).
 */
import { ApiKey } from "../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../protocol/kafka/error-codes.ts";
import type { ResponseBody } from "../../protocol/kafka/kafka-codec.ts";
import { recordMicros } from "../histogram.ts";
import { nowMicros } from "../wire.ts";
import { kafkaErrorName, VERSIONS } from "./admin.ts";
import { ConnectionState, type KafkaConnection } from "./connection.ts";
import { FETCH_MAX_BYTES, FETCH_MAX_WAIT_MS, FETCH_PARTITION_MAX_BYTES } from "./limits.ts";
import type { KafkaBenchOptions } from "./options.ts";
import { nextFetchOffset, readFetchedRecords } from "./records.ts";
import type { KafkaWorkerStats } from "./stats.ts";

/** After a fetch answered with an error, the next one waits this long (no busy loop). */
const ERROR_BACKOFF_MS = 100;

export class Consumer {
  readonly index: number;
  readonly connection: KafkaConnection;
  private readonly options: KafkaBenchOptions;
  private readonly stats: KafkaWorkerStats;
  private readonly partitions: readonly number[];
  /** Next offset to read, per entry of `partitions`. */
  private readonly offsets: number[];
  /** Where the backlog starts and ends, per entry of `partitions`. */
  private readonly starts: readonly number[];
  private readonly ends: readonly number[];
  private passesLeft: number;
  private readonly onDone: () => void;
  private receivedCount = 0;
  private running = false;
  private stopped = false;
  private fetching = false;
  private doneReported = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    index: number,
    connection: KafkaConnection,
    options: KafkaBenchOptions,
    assignment: { partitions: number[]; starts: number[]; ends: number[] },
    stats: KafkaWorkerStats,
    onDone: () => void,
  ) {
    this.index = index;
    this.connection = connection;
    this.options = options;
    this.stats = stats;
    this.partitions = assignment.partitions;
    this.offsets = [...assignment.starts];
    this.starts = assignment.starts;
    this.ends = assignment.ends;
    this.passesLeft = options.passes;
    this.onDone = onDone;
  }

  get isDone(): boolean {
    if (this.stopped) return true;
    // With produce, -n counts each producer's records; its consumers read until the drain.
    const count = this.options.command === "consume" ? this.options.recordCountPerClient : null;
    if (count !== null && this.receivedCount >= count) return true;
    if (this.options.follow) return false;
    return this.atBacklogEnd;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.fetch();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private fetch(): void {
    if (this.checkDone() || this.fetching) return;
    this.sendFetch();
  }

  /** One Fetch from the current offsets, unless one is under way. */
  private sendFetch(): void {
    if (this.fetching) return;
    if (this.connection.state !== ConnectionState.CONNECTED) {
      this.stop();
      this.checkDone();
      return;
    }
    this.fetching = true;
    this.connection.request(
      ApiKey.Fetch,
      VERSIONS.fetch,
      {
        replicaId: -1,
        maxWaitMs: FETCH_MAX_WAIT_MS,
        minBytes: 1,
        maxBytes: FETCH_MAX_BYTES,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [
          {
            topic: this.options.topic,
            partitions: this.partitions.map((partition, i) => ({
              partition,
              currentLeaderEpoch: -1,
              fetchOffset: BigInt(this.offsets[i]),
              logStartOffset: -1n,
              partitionMaxBytes: FETCH_PARTITION_MAX_BYTES,
            })),
          },
        ],
        forgottenTopicsData: [],
        rackId: "",
      },
      (response) => this.onResponse(response),
      () => {
        this.fetching = false;
      },
    );
  }

  private onResponse(response: ResponseBody<typeof ApiKey.Fetch>): void {
    this.fetching = false;
    const arrival = nowMicros();
    let failed = response.errorCode !== KafkaError.NONE;
    if (failed) this.stats.error(`fetch:${kafkaErrorName(response.errorCode)}`);
    // Offsets first, from the batch headers; the records are walked after the next fetch is sent.
    const fetched: Array<{ records: Buffer; fromOffset: number }> = [];
    for (const topic of response.responses) {
      for (const partition of topic.partitions) {
        const i = this.partitions.indexOf(partition.partitionIndex);
        if (partition.errorCode !== KafkaError.NONE || i < 0) {
          const code = partition.errorCode;
          this.stats.error(
            i < 0 ? "fetch:partition not asked for" : `fetch:${kafkaErrorName(code)}`,
          );
          failed = true;
          continue;
        }
        const records = partition.records;
        if (records === null || records.length === 0) continue;
        fetched.push({ records, fromOffset: this.offsets[i] });
        this.offsets[i] = nextFetchOffset(records, this.offsets[i]);
      }
    }
    this.startNextPass();
    // The broker reads the next range while this thread counts this one. (The frame's bytes stay
    // valid: the answer to this fetch cannot be read before this callback returns.)
    const prefetched = !failed && !this.isDone;
    if (prefetched) {
      this.sendFetch();
      this.connection.flush(); // now, not after the walk below
    }
    this.count(fetched, arrival);
    if (failed) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.fetch();
      }, ERROR_BACKOFF_MS);
      return;
    }
    if (prefetched) this.checkDone();
    else this.fetch();
  }

  /** Every partition read up to where its backlog ended at set-up. */
  private get atBacklogEnd(): boolean {
    return this.offsets.every((offset, i) => offset >= this.ends[i]);
  }

  /** At the end of the backlog with passes left: back to where the first pass began. */
  private startNextPass(): void {
    if (this.passesLeft <= 1 || !this.atBacklogEnd) return;
    this.passesLeft--;
    for (let i = 0; i < this.offsets.length; i++) this.offsets[i] = this.starts[i];
  }

  /** Counts (and times) the records of one answer, from the offsets they were fetched at. */
  private count(fetched: ReadonlyArray<{ records: Buffer; fromOffset: number }>, arrival: number) {
    const counters = this.stats.counters;
    const latency = this.stats.latency;
    // The records of a batch carry one send time: runs of it are recorded at once (a histogram
    // update per record was a tenth of the consumer thread's time).
    let runMicros = -1;
    let runCount = 0;
    const onValue = (sendMicros: number): void => {
      if (sendMicros < 0) return;
      if (sendMicros === runMicros) {
        runCount++;
        return;
      }
      if (runCount > 0) recordMicros(latency, arrival - runMicros, runCount);
      runMicros = sendMicros;
      runCount = 1;
    };
    let received = 0;
    for (const { records, fromOffset } of fetched) {
      const outcome = readFetchedRecords(records, fromOffset, onValue);
      received += outcome.recordCount;
      counters.receivedValueBytes += outcome.valueBytes;
      if (outcome.unreadableCount > 0) {
        this.stats.error("fetch:unreadable batch", outcome.unreadableCount);
      }
    }
    if (runCount > 0) recordMicros(latency, arrival - runMicros, runCount);
    if (received === 0) return;
    this.receivedCount += received;
    counters.receivedRecordCount += received;
    if (counters.firstReceiveMicros === 0) counters.firstReceiveMicros = arrival;
    counters.lastReceiveMicros = arrival;
  }

  /** Reports done once; true when there is nothing more to fetch. */
  private checkDone(): boolean {
    if (!this.isDone) return false;
    if (!this.doneReported) {
      this.doneReported = true;
      this.onDone();
    }
    return true;
  }
}
