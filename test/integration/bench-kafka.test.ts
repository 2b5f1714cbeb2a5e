/**
 * `robustmq bench kafka ...` against the real broker process, run as operators run it (a child
 * process with --json): records produced, acknowledged and consumed agree, with one latency
 * sample per record; a backlog is read back in full; and a broker that is not there ends the run
 * with errors and exit status 1 at once, never a hang.
 */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, test } from "node:test";
import type { KafkaBenchSummary } from "../../src/bench/kafka/summary.ts";
import { type BenchCliRun, runBenchCli } from "../helpers/bench-cli.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";

/** Runs `robustmq bench kafka <args> --json`; kills it (and fails) after `timeoutMs`. */
function bench(args: string[], timeoutMs: number): Promise<BenchCliRun<KafkaBenchSummary>> {
  return runBenchCli<KafkaBenchSummary>("kafka", args, timeoutMs);
}

describe("robustmq bench kafka against the broker", { timeout: 120_000 }, () => {
  let broker: BrokerProcess;
  let port: string;

  before(async () => {
    broker = await startBroker({ logLevel: "info" });
    assert.ok(broker.kafkaPort !== null);
    port = String(broker.kafkaPort);
  });

  after(async () => {
    await broker.stop();
  });

  test("produce with consumers: every record acknowledged, read back and timed", async () => {
    const args = ["produce", "-p", port, "-t", "bench-it", "--partitions", "3"];
    args.push("--producers", "2", "--consumers", "2", "-n", "3000", "-b", "50", "-s", "256");
    const { status, summary, stderr } = await bench([...args, "--workers", "2"], 60_000);
    assert.equal(status, 0, stderr);
    assert.deepEqual(summary.errors, {});
    assert.equal(summary.partitionCount, 3);
    assert.equal(summary.topicCreated, true);
    assert.equal(summary.connect.connectedCount, 4);
    const produce = summary.produce;
    const consume = summary.consume;
    assert.ok(produce !== null && consume !== null);
    assert.equal(produce.sentRecordCount, 6000);
    assert.equal(produce.ackedRecordCount, 6000);
    assert.equal(produce.sentBatchCount, 120);
    assert.equal(produce.ackLatencyMicros?.count, 120, "one ack sample per batch");
    assert.ok(produce.recordsPerSecond > 0);
    assert.equal(consume.expectedRecordCount, 6000);
    assert.equal(consume.receivedRecordCount, 6000);
    assert.equal(consume.latencyMicros?.count, 6000, "one latency sample per record");
    assert.ok((consume.latencyMicros?.p50 ?? 0) > 0);
  });

  test("gzip at acks 1 with a rate and linger, then the backlog read by consume", async () => {
    const produced = await bench(
      ["produce", "-p", port, "-t", "bench-backlog", "--partitions", "2", "--producers", "2"]
        .concat(["--acks", "1", "--compression", "gzip", "-r", "2000", "--linger", "5"])
        .concat(["-n", "1000", "-b", "100"]),
      60_000,
    );
    assert.equal(produced.status, 0, produced.stderr);
    assert.equal(produced.summary.produce?.ackedRecordCount, 2000);
    const consumed = await bench(
      ["consume", "-p", port, "-t", "bench-backlog", "--consumers", "2", "-d", "30"],
      60_000,
    );
    assert.equal(consumed.status, 0, consumed.stderr);
    assert.deepEqual(consumed.summary.errors, {});
    assert.equal(consumed.summary.consume?.expectedRecordCount, 2000);
    assert.equal(consumed.summary.consume?.receivedRecordCount, 2000);
    assert.ok(consumed.summary.elapsedSeconds < 20, "stops at the end of the backlog");
    const twice = await bench(
      ["consume", "-p", port, "-t", "bench-backlog", "--consumers", "2", "--passes", "2"],
      60_000,
    );
    assert.equal(twice.status, 0, twice.stderr);
    assert.deepEqual(twice.summary.errors, {});
    assert.equal(twice.summary.consume?.expectedRecordCount, 4000);
    assert.equal(twice.summary.consume?.receivedRecordCount, 4000, "the backlog read twice");
  });

  test("a broker that is not there: errors and exit status 1, at once", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    assert.ok(address !== null && typeof address === "object");
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const started = performance.now();
    const { status, summary, stderr } = await bench(
      ["produce", "-p", String(address.port), "--consumers", "1", "-d", "30"],
      20_000,
    );
    assert.equal(status, 1);
    assert.match(stderr, /RMQ_ERR_BENCH_CONNECT_FAILED/);
    assert.equal(summary.ok, false);
    assert.equal(summary.errors["connect:ECONNREFUSED"], 1);
    assert.ok(performance.now() - started < 15_000);
  });

  test("consume of a topic that does not exist is a set-up error", async () => {
    const { status, summary } = await bench(["consume", "-p", port, "-t", "no-such-topic"], 20_000);
    assert.equal(status, 1);
    assert.deepEqual(summary.errors, { "setup:topic no-such-topic does not exist": 1 });
  });
});
