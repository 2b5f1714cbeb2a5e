/**
 * Everything one worker thread does in a Kafka run, driven by the main thread's messages: open
 * its producers' and consumers' connections, run them, report its counters every second, and
 * finally close and hand over its results. No thread API in here (worker.ts is the entry point).
 */
import { recordMicros } from "../histogram.ts";
import { PROGRESS_INTERVAL_MS } from "../limits.ts";
import { KafkaConnection } from "./connection.ts";
import { Consumer } from "./consumer.ts";
import { Producer } from "./producer.ts";
import { BatchBuilder } from "./records.ts";
import {
  type KafkaCoordinatorMessage,
  type KafkaCounters,
  type KafkaWorkerMessage,
  type KafkaWorkerPlan,
  KafkaWorkerStats,
} from "./stats.ts";

/** The partitions consumer `index` of `count` reads: every count-th one from its index. */
export function assignedPartitions(index: number, count: number, partitionCount: number): number[] {
  const partitions: number[] = [];
  for (let p = index; p < partitionCount; p += count) partitions.push(p);
  return partitions;
}

export class KafkaWorkerRun {
  private readonly plan: KafkaWorkerPlan;
  private readonly post: (message: KafkaWorkerMessage) => void;
  private readonly stats = new KafkaWorkerStats();
  private readonly producers: Producer[] = [];
  private readonly consumers: Consumer[] = [];
  private readonly connections: KafkaConnection[] = [];
  private connectPending = 0;
  private finishedSent = false;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(plan: KafkaWorkerPlan, post: (message: KafkaWorkerMessage) => void) {
    this.plan = plan;
    this.post = post;
    this.createClients();
  }

  start(): void {
    this.timer = setInterval(() => this.send("progress"), PROGRESS_INTERVAL_MS);
    this.send("ready");
  }

  handle(message: KafkaCoordinatorMessage): void {
    if (this.closed) return;
    switch (message.type) {
      case "connect":
        this.connectAll();
        break;
      case "run":
        for (const consumer of this.consumers) consumer.start();
        for (const producer of this.producers) producer.start();
        this.checkFinished();
        break;
      case "stop":
        for (const producer of this.producers) producer.stop();
        if (this.plan.options.command === "consume") {
          for (const consumer of this.consumers) consumer.stop();
        }
        break;
      case "poll":
        this.send("progress");
        break;
      case "close":
        this.close();
        break;
    }
  }

  private createClients(): void {
    const { options, layout, producers, consumers } = this.plan;
    const builder = new BatchBuilder(options.recordSizeBytes, options.compression);
    const onDone = () => this.checkFinished();
    for (let i = 0; i < consumers.count; i++) {
      const index = consumers.first + i;
      const partitions = assignedPartitions(index, options.consumerCount, layout.partitionCount);
      const startAtEnd = options.from === "latest";
      const starts = partitions.map((p) =>
        startAtEnd ? layout.latestOffsets[p] : layout.earliestOffsets[p],
      );
      const ends = partitions.map((p) => layout.latestOffsets[p]);
      const connection = this.connection(`rmq-bench-consumer-${index}`, (kind) => {
        consumer.stop();
        this.lost(kind);
      });
      const consumer = new Consumer(
        index,
        connection,
        options,
        { partitions, starts, ends },
        this.stats,
        onDone,
      );
      this.consumers.push(consumer);
    }
    for (let i = 0; i < producers.count; i++) {
      const index = producers.first + i;
      const connection = this.connection(`rmq-bench-producer-${index}`, (kind) => {
        producer.abandon();
        this.lost(kind);
      });
      const producer = new Producer(
        index,
        connection,
        options,
        layout.partitionCount,
        this.stats,
        builder,
        onDone,
      );
      this.producers.push(producer);
    }
  }

  private connection(clientId: string, onLost: (kind: string) => void): KafkaConnection {
    const { options } = this.plan;
    const connection = new KafkaConnection(options.host, options.port, clientId, {
      connected: (latencyMicros) => {
        this.stats.counters.connectedCount++;
        recordMicros(this.stats.connectLatency, latencyMicros);
        this.connectSettled();
      },
      connectFailed: (kind) => {
        this.stats.counters.connectFailedCount++;
        this.stats.error(kind);
        this.connectSettled();
      },
      lost: (kind) => {
        if (!this.closed) onLost(kind);
      },
    });
    this.connections.push(connection);
    return connection;
  }

  private lost(kind: string): void {
    this.stats.counters.lostCount++;
    this.stats.error(kind);
    this.checkFinished();
  }

  private connectAll(): void {
    this.connectPending = this.connections.length;
    this.stats.counters.connectAttemptedCount += this.connections.length;
    for (const connection of this.connections) connection.open(this.plan.options.connectTimeoutMs);
  }

  private connectSettled(): void {
    this.connectPending--;
    if (this.connectPending === 0) this.send("connected");
  }

  private checkFinished(): void {
    if (this.finishedSent) return;
    if (!this.producers.every((p) => p.isDone)) return;
    if (this.plan.options.command === "consume" && !this.consumers.every((c) => c.isDone)) return;
    this.finishedSent = true;
    this.send("finished");
  }

  private countersNow(): KafkaCounters {
    const counters = this.stats.counters;
    counters.producersDoneCount = this.producers.filter((p) => p.isDone).length;
    counters.consumersDoneCount = this.consumers.filter((c) => c.isDone).length;
    counters.pendingRequestCount = this.producers.reduce((n, p) => n + p.pendingRequestCount, 0);
    return { ...counters };
  }

  private send(type: "ready" | "connected" | "finished" | "progress"): void {
    if (this.closed) return;
    this.post({ type, counters: this.countersNow() });
  }

  private close(): void {
    for (const producer of this.producers) producer.stop();
    for (const consumer of this.consumers) consumer.stop();
    const counters = this.countersNow();
    if (counters.pendingRequestCount > 0) {
      this.stats.error("produce:no answer by the end of the run", counters.pendingRequestCount);
      counters.errorCount = this.stats.counters.errorCount;
    }
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    for (const connection of this.connections) connection.close();
    this.post({ type: "final", result: this.stats.result(counters) });
  }
}
