/**
 * Option parsing of `robustmq bench kafka produce|consume`: defaults, bad values (each reported
 * with the flag, the value and what is allowed), combinations, and all problems at once.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { KafkaCommand, RawKafkaFlags } from "../../../src/bench/kafka/option-specs.ts";
import { KAFKA_OPTION_SPECS } from "../../../src/bench/kafka/option-specs.ts";
import { parseKafkaOptions, topicNameProblem } from "../../../src/bench/kafka/options.ts";
import { assignedPartitions } from "../../../src/bench/kafka/worker-run.ts";
import { ErrorCode, RobustMQError } from "../../../src/errors.ts";

const CPUS = 2;

function problems(command: KafkaCommand, flags: RawKafkaFlags): string {
  try {
    parseKafkaOptions(command, flags, CPUS);
  } catch (error) {
    assert.ok(error instanceof RobustMQError, String(error));
    assert.equal(error.code, ErrorCode.BENCH_INVALID_OPTION);
    return error.message;
  }
  assert.fail(`accepted ${JSON.stringify(flags)}`);
}

describe("bench kafka options", () => {
  test("produce defaults", () => {
    const o = parseKafkaOptions("produce", {}, CPUS);
    assert.equal(o.host, "127.0.0.1");
    assert.equal(o.port, 9092);
    assert.equal(o.topic, "rmq-bench");
    assert.equal(o.producerCount, 1);
    assert.equal(o.consumerCount, 0);
    assert.equal(o.partitionCount, 1);
    assert.equal(o.recordSizeBytes, 1024);
    assert.equal(o.batchRecordCount, 16);
    assert.equal(o.lingerMs, 0);
    assert.equal(o.acks, -1);
    assert.equal(o.compression, "none");
    assert.equal(o.ratePerSecond, 0);
    assert.equal(o.inflightCountMax, 5);
    assert.equal(o.durationMs, 10_000);
    assert.equal(o.recordCountPerClient, null);
    assert.equal(o.connectTimeoutMs, 10_000);
    assert.equal(o.workerCount, 1);
    // produce's consumers read what the run writes: from the end, following.
    assert.equal(o.from, "latest");
    assert.equal(o.follow, true);
  });

  test("consume defaults: one consumer reading the backlog from the earliest offset", () => {
    const o = parseKafkaOptions("consume", {}, CPUS);
    assert.equal(o.producerCount, 0);
    assert.equal(o.consumerCount, 1);
    assert.equal(o.from, "earliest");
    assert.equal(o.follow, false);
    const latest = parseKafkaOptions("consume", { from: "latest" }, CPUS);
    assert.equal(latest.follow, true, "reading from the end follows");
    assert.equal(o.passes, 1);
    assert.equal(parseKafkaOptions("consume", { passes: "3" }, CPUS).passes, 3);
  });

  test("values given are taken", () => {
    const o = parseKafkaOptions(
      "produce",
      {
        host: "broker.local",
        port: "19092",
        topic: "load.test_1",
        partitions: "8",
        producers: "4",
        consumers: "2",
        recordSize: "100",
        batchSize: "50",
        linger: "2.5",
        acks: "all",
        compression: "gzip",
        rate: "1000",
        inflight: "1",
        duration: "3",
        count: "1_000",
        workers: "8",
        json: true,
      },
      CPUS,
    );
    assert.deepEqual(
      [o.host, o.port, o.topic, o.partitionCount, o.producerCount, o.consumerCount],
      ["broker.local", 19092, "load.test_1", 8, 4, 2],
    );
    assert.deepEqual(
      [o.recordSizeBytes, o.batchRecordCount, o.lingerMs, o.acks, o.compression],
      [100, 50, 2.5, -1, "gzip"],
    );
    assert.deepEqual(
      [o.ratePerSecond, o.inflightCountMax, o.durationMs, o.recordCountPerClient, o.json],
      [1000, 1, 3000, 1000, true],
    );
    assert.equal(o.workerCount, 6, "workers capped at the number of clients");
    assert.equal(parseKafkaOptions("produce", { acks: "0" }, CPUS).acks, 0);
    assert.equal(parseKafkaOptions("produce", { acks: "1" }, CPUS).acks, 1);
    assert.equal(parseKafkaOptions("produce", { acks: "-1" }, CPUS).acks, -1);
  });

  test("-n without -d publishes for at most 600 s", () => {
    assert.equal(parseKafkaOptions("produce", { count: "10" }, CPUS).durationMs, 600_000);
  });

  test("partitions default to the larger of producers and consumers", () => {
    const o = parseKafkaOptions("produce", { producers: "3", consumers: "5" }, CPUS);
    assert.equal(o.partitionCount, 5);
  });

  test("each bad value names the flag, the value and what is allowed", () => {
    const cases: Array<[RawKafkaFlags, string]> = [
      [{ port: "0" }, '--port = "0": must be an integer from 1 to 65535'],
      [{ topic: "a b" }, '--topic = "a b": must be 1 to 249 characters of a-z A-Z 0-9 . _ -'],
      [{ topic: ".." }, '--topic = "..": must not be "." or ".."'],
      [{ partitions: "0" }, '--partitions = "0": must be an integer from 1 to 10000'],
      [{ producers: "-1" }, '--producers = "-1": must be an integer from 1 to 10000'],
      [{ batchSize: "0" }, '--batch-size = "0": must be an integer from 1 to 8191 (records)'],
      [{ linger: "soon" }, '--linger = "soon": must be a number from 0 to 60000 (milliseconds)'],
      [{ acks: "2" }, '--acks = "2": must be one of 0, 1, -1, all'],
      [{ compression: "lz4" }, '--compression = "lz4": must be one of none, gzip, zstd'],
      [{ rate: "fast" }, '--rate = "fast": must be a number from 0 to 10000000'],
      [{ inflight: "0" }, '--inflight = "0": must be an integer from 1 to 1000'],
      [{ duration: "0" }, '--duration = "0": must be a number from 0.001 to 86400 (seconds)'],
      [{ count: "0" }, '--count = "0": must be an integer from 1 to'],
      [{ connectTimeout: "x" }, '--connect-timeout = "x": must be a number from 0.001'],
      [{ workers: "65" }, '--workers = "65": must be an integer from 1 to 64'],
      [{ host: " " }, '--host = " ": must be a host name or address'],
    ];
    for (const [flags, expected] of cases) {
      const message = problems("produce", flags);
      assert.ok(message.includes(expected), `${JSON.stringify(flags)}: ${message}`);
    }
  });

  test("records need room for the timestamp header only when they are consumed", () => {
    assert.equal(parseKafkaOptions("produce", { recordSize: "0" }, CPUS).recordSizeBytes, 0);
    const message = problems("produce", { recordSize: "8", consumers: "1" });
    assert.match(message, /--record-size = "8": must be an integer from 16 to 1000000/);
  });

  test("combinations: batch volume, consumers per partition", () => {
    assert.match(
      problems("produce", { recordSize: "1000000", batchSize: "100" }),
      /--batch-size = "100": batches of 100000000 bytes/,
    );
    assert.match(
      problems("produce", { consumers: "3", partitions: "2" }),
      /--consumers = "3": each consumer reads whole partitions: at most --partitions \(2\)/,
    );
    assert.match(
      problems("consume", { consumers: "0" }),
      /--consumers = "0": must be an integer from 1/,
    );
    assert.match(
      problems("consume", { from: "middle" }),
      /--from = "middle": must be one of earliest, latest/,
    );
  });

  test("passes read a backlog again: not while following or counting", () => {
    for (const flags of [{ follow: true }, { from: "latest" }, { count: "10" }]) {
      assert.match(
        problems("consume", { ...flags, passes: "2" }),
        /--passes = "2": passes read a backlog/,
      );
    }
    assert.match(problems("consume", { passes: "0" }), /--passes/);
  });

  test("every problem is reported at once", () => {
    const message = problems("produce", { acks: "2", compression: "lz4", batchSize: "0" });
    assert.match(message, /^invalid options, 3 problems:/);
  });

  test("each command registers only its own flags", () => {
    const flagsOf = (command: KafkaCommand) =>
      KAFKA_OPTION_SPECS.filter((s) => s.commands.includes(command)).map((s) => s.flags);
    assert.ok(flagsOf("produce").includes("-a, --acks <acks>"));
    assert.ok(!flagsOf("consume").includes("-a, --acks <acks>"));
    assert.ok(flagsOf("consume").includes("--from <position>"));
    assert.ok(!flagsOf("produce").includes("--from <position>"));
  });

  test("topic names follow Kafka's rules", () => {
    assert.equal(topicNameProblem("orders-v2.eu_1"), null);
    assert.notEqual(topicNameProblem(""), null);
    assert.notEqual(topicNameProblem("x".repeat(250)), null);
    assert.notEqual(topicNameProblem("a/b"), null);
  });

  test("consumers share the partitions by assignment, each partition read once", () => {
    assert.deepEqual(assignedPartitions(0, 2, 5), [0, 2, 4]);
    assert.deepEqual(assignedPartitions(1, 2, 5), [1, 3]);
    const all = [0, 1, 2].flatMap((i) => assignedPartitions(i, 3, 7)).sort((a, b) => a - b);
    assert.deepEqual(all, [0, 1, 2, 3, 4, 5, 6]);
  });
});
