/**
 * One producer: its own connection, batches of --batch-size records sent round-robin over the
 * partitions, at most --inflight requests awaiting an answer (acks 1, -1), or as fast as the
 * socket takes them (acks 0). Unlimited producers refill the window from each answer; paced
 * ones add the records due at each tick to the open batch, which goes out when full or when
 * --linger has passed since its first record.
 */
import { ApiKey } from "../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../protocol/kafka/error-codes.ts";
import { recordMicros } from "../histogram.ts";
import { Pacer, tickIntervalMs } from "../pacing.ts";
import { nowMicros } from "../wire.ts";
import { kafkaErrorName, VERSIONS } from "./admin.ts";
import { ConnectionState, type KafkaConnection } from "./connection.ts";
import { BATCHES_PER_TURN_MAX, PRODUCE_TIMEOUT_MS } from "./limits.ts";
import type { KafkaBenchOptions } from "./options.ts";
import type { BatchBuilder } from "./records.ts";
import type { KafkaWorkerStats } from "./stats.ts";

export class Producer {
  readonly index: number;
  readonly connection: KafkaConnection;
  private readonly options: KafkaBenchOptions;
  private readonly partitionCount: number;
  private readonly stats: KafkaWorkerStats;
  private readonly builder: BatchBuilder;
  private readonly onDone: () => void;
  /** Send times of the open batch's records. */
  private readonly stamps: Float64Array;
  private openCount = 0;
  private openSinceMs = 0;
  /** Records put into batches so far (sent, or in the open batch). */
  private producedCount = 0;
  private readonly countMax: number;
  private batchSequence: number;
  private inflight = 0;
  private running = false;
  private stopped = false;
  private waitingForDrain = false;
  private pacer: Pacer | null = null;
  private timer: NodeJS.Timeout | null = null;
  private doneReported = false;

  constructor(
    index: number,
    connection: KafkaConnection,
    options: KafkaBenchOptions,
    partitionCount: number,
    stats: KafkaWorkerStats,
    builder: BatchBuilder,
    onDone: () => void,
  ) {
    this.index = index;
    this.connection = connection;
    this.options = options;
    this.partitionCount = partitionCount;
    this.stats = stats;
    this.builder = builder;
    this.onDone = onDone;
    this.stamps = new Float64Array(options.batchRecordCount);
    this.countMax = options.recordCountPerClient ?? Number.POSITIVE_INFINITY;
    this.batchSequence = index;
  }

  /** Will send no more, and has every answer it waits for. */
  get isDone(): boolean {
    const finished = this.stopped || this.producedCount >= this.countMax;
    return finished && this.openCount === 0 && this.inflight === 0;
  }

  get pendingRequestCount(): number {
    return this.inflight;
  }

  start(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    if (this.connection.state !== ConnectionState.CONNECTED) {
      this.abandon();
      return;
    }
    const rate = this.options.ratePerSecond;
    if (rate === 0) {
      this.pump();
      return;
    }
    this.pacer = new Pacer(rate, performance.now());
    const linger = this.options.lingerMs;
    const tickMs = Math.max(1, Math.min(tickIntervalMs(rate), linger > 0 ? linger : 1000));
    this.timer = setInterval(() => this.tick(), tickMs);
    this.tick();
  }

  stop(): void {
    this.stopped = true;
    this.openCount = 0;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.checkDone();
  }

  /** The connection is gone: nothing more will be sent or answered. */
  abandon(): void {
    this.inflight = 0;
    this.stop();
  }

  private canSend(): boolean {
    if (this.stopped || this.waitingForDrain) return false;
    if (this.connection.state !== ConnectionState.CONNECTED) return false;
    return this.options.acks === 0 || this.inflight < this.options.inflightCountMax;
  }

  /** Unlimited rate: full batches until the window (or the socket) is full. */
  private pump(): void {
    let sentThisTurn = 0;
    while (this.canSend() && this.producedCount < this.countMax) {
      if (sentThisTurn >= BATCHES_PER_TURN_MAX) {
        // Let acks, fetches and the other producers of this thread have a turn.
        setImmediate(() => this.pump());
        return;
      }
      const count = Math.min(this.options.batchRecordCount, this.countMax - this.producedCount);
      const now = nowMicros();
      for (let i = 0; i < count; i++) this.stamps[i] = now;
      this.openCount = count;
      this.producedCount += count;
      this.flush();
      sentThisTurn++;
    }
    this.checkDone();
  }

  private tick(): void {
    const pacer = this.pacer;
    if (pacer === null || this.stopped) return;
    const nowMs = performance.now();
    if (this.canSend()) {
      let due = Math.min(
        pacer.allowance(nowMs, this.producedCount),
        this.countMax - this.producedCount,
      );
      const now = nowMicros();
      while (due > 0 && this.canSend()) {
        if (this.openCount === 0) this.openSinceMs = nowMs;
        const take = Math.min(due, this.options.batchRecordCount - this.openCount);
        for (let i = 0; i < take; i++) this.stamps[this.openCount + i] = now;
        this.openCount += take;
        this.producedCount += take;
        due -= take;
        if (this.openCount === this.options.batchRecordCount) this.flush();
      }
    }
    const lingered = nowMs - this.openSinceMs >= this.options.lingerMs;
    const last = this.producedCount >= this.countMax;
    if (this.openCount > 0 && (lingered || last) && this.canSend()) this.flush();
    this.checkDone();
  }

  /** Sends the open batch to the next partition in turn. */
  private flush(): void {
    const count = this.openCount;
    this.openCount = 0;
    const batch = this.builder.build(count, this.stamps);
    const partition = this.batchSequence++ % this.partitionCount;
    const body = {
      transactionalId: null,
      acks: this.options.acks,
      timeoutMs: PRODUCE_TIMEOUT_MS,
      topicData: [
        { name: this.options.topic, partitionData: [{ index: partition, records: batch }] },
      ],
    };
    const counters = this.stats.counters;
    counters.sentRecordCount += count;
    counters.sentBatchCount++;
    let room: boolean;
    if (this.options.acks === 0) {
      room = this.connection.send(ApiKey.Produce, VERSIONS.produce, body);
      counters.lastProducedMicros = nowMicros();
    } else {
      this.inflight++;
      const sentMicros = nowMicros();
      room = this.connection.request(
        ApiKey.Produce,
        VERSIONS.produce,
        body,
        (response) => {
          const code =
            response.responses[0]?.partitionResponses[0]?.errorCode ??
            KafkaError.UNKNOWN_SERVER_ERROR;
          this.onAnswer(count, code, sentMicros);
        },
        () => this.onAbandoned(),
      );
    }
    if (!room && !this.waitingForDrain) {
      this.waitingForDrain = true;
      this.connection.whenDrained(() => {
        this.waitingForDrain = false;
        if (this.pacer === null) this.pump();
      });
    }
  }

  private onAnswer(count: number, code: number, sentMicros: number): void {
    this.inflight--;
    const counters = this.stats.counters;
    const now = nowMicros();
    if (code === KafkaError.NONE) {
      counters.ackedRecordCount += count;
      counters.lastProducedMicros = now;
      recordMicros(this.stats.ackLatency, now - sentMicros);
    } else {
      counters.refusedRecordCount += count;
      this.stats.error(`produce:${kafkaErrorName(code)}`);
    }
    if (this.pacer === null) this.pump();
    else this.checkDone();
  }

  private onAbandoned(): void {
    this.inflight = Math.max(0, this.inflight - 1);
    this.checkDone();
  }

  private checkDone(): void {
    if (this.doneReported || !this.isDone) return;
    this.doneReported = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.onDone();
  }
}
