/**
 * `robustmq bench mqtt ...` against the real broker process, run as operators run it (a child
 * process with --json): counts agree at QoS 0 and QoS 1, latency figures are sane, `conn` holds
 * its connections, and a broker that is absent, silent or goes away mid-run ends the run with
 * errors and exit status 1 inside its deadline, never a hang.
 */
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import type { LatencySummary } from "../../src/bench/histogram.ts";
import type { BenchSummary } from "../../src/bench/summary.ts";
import { type BenchCliRun, runBenchCli } from "../helpers/bench-cli.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";

/** Runs `robustmq bench mqtt <args> --json`; kills it (and fails) after `timeoutMs`. */
function bench(args: string[], timeoutMs: number): Promise<BenchCliRun<BenchSummary>> {
  return runBenchCli<BenchSummary>("mqtt", args, timeoutMs);
}

function assertSaneLatency(latency: LatencySummary | null, count: number, what: string): void {
  assert.ok(latency !== null, `${what}: no latency`);
  assert.equal(latency.count, count, `${what}: one sample per message`);
  const ordered = [latency.min, latency.p50, latency.p90, latency.p99, latency.p999, latency.max];
  assert.deepEqual(
    [...ordered].sort((a, b) => a - b),
    ordered,
    `${what}: ${JSON.stringify(latency)}`,
  );
  assert.ok(latency.min >= 0 && latency.p50 > 0, `${what}: ${JSON.stringify(latency)}`);
  // Loopback on an idle machine: a median above 5 s would mean the clock or the maths is wrong.
  assert.ok(latency.p50 < 5_000_000, `${what}: p50 ${latency.p50} µs`);
}

/** Listens on loopback with `onSocket`; returns the port and a close function. */
async function listen(
  onSocket: (socket: Socket) => void,
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    socket.on("error", () => {});
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  assert.ok(typeof address === "object" && address !== null);
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe("bench mqtt against the real broker", () => {
  let broker: BrokerProcess;
  before(async () => {
    broker = await startBroker({ logLevel: "info" });
  });
  after(async () => {
    await broker.stop();
  });

  const pubsub = (qos: string, extra: string[]): string[] => [
    "pubsub",
    ...["-p", String(broker.port), "-q", qos, "-d", "2", "-s", "64"],
    ...["--publishers", "4", "--subscribers", "4", "-t", "bench/%i", "--workers", "2"],
    ...extra,
  ];

  test("pubsub QoS 0, 4 -> 4 on bench/%i: received <= sent, latency sane", async () => {
    const { status, summary, stderr } = await bench(pubsub("0", ["-r", "2000"]), 30_000);
    assert.equal(status, 0, stderr);
    assert.equal(summary.ok, true);
    assert.equal(summary.connect.connectedCount, 8);
    const publish = summary.publish;
    const receive = summary.receive;
    assert.ok(publish !== null && receive !== null);
    // 4 publishers at 2000/s for 2 s: about 16,000, give or take timer ticks.
    assert.ok(publish.sentCount > 8000 && publish.sentCount <= 16_200, `sent ${publish.sentCount}`);
    assert.ok(
      receive.receivedCount > 0 && receive.receivedCount <= publish.sentCount,
      `received ${receive.receivedCount}`,
    );
    assert.equal(
      receive.expectedCount,
      publish.sentCount,
      "each subscriber has its publisher's topic",
    );
    assert.equal(receive.subscribedCount, 4);
    assertSaneLatency(receive.latencyMicros, receive.receivedCount, "end-to-end");
    assert.equal(publish.ackLatencyMicros, null, "QoS 0 has no acks");
  });

  test("pubsub QoS 1, 4 -> 4 on bench/%i: received == acked == sent", async () => {
    const { status, summary, stderr } = await bench(pubsub("1", ["--inflight", "16"]), 30_000);
    assert.equal(status, 0, stderr);
    const publish = summary.publish;
    const receive = summary.receive;
    assert.ok(publish !== null && receive !== null);
    assert.ok(publish.sentCount > 100, `sent ${publish.sentCount}`);
    assert.equal(publish.ackedCount, publish.sentCount);
    assert.equal(receive.receivedCount, publish.sentCount);
    assert.equal(receive.expectedCount, publish.sentCount);
    assert.ok(publish.messagesPerSecond > 0 && receive.messagesPerSecond > 0);
    assertSaneLatency(receive.latencyMicros, receive.receivedCount, "end-to-end");
    assertSaneLatency(publish.ackLatencyMicros, publish.ackedCount, "publish to PUBACK");
  });

  test("pubsub QoS 2 with a wildcard subscriber receives every message once per subscriber", async () => {
    const args = ["pubsub", "-p", String(broker.port), "-q", "2", "-n", "200", "-t", "bench2/%i"];
    args.push("--publishers", "2", "--subscribers", "2", "--sub-topic", "bench2/+");
    const { status, summary, stderr } = await bench(args, 30_000);
    assert.equal(status, 0, stderr);
    assert.equal(summary.publish?.sentCount, 400);
    assert.equal(summary.publish?.ackedCount, 400);
    assert.equal(summary.receive?.expectedCount, 800);
    assert.equal(summary.receive?.receivedCount, 800);
  });

  test("conn -c 200 holds 200 connections", async () => {
    const args = [
      "conn",
      "-p",
      String(broker.port),
      "-c",
      "200",
      "-d",
      "1.5",
      "--conn-rate",
      "1000",
    ];
    const { status, summary, stderr } = await bench(args, 30_000);
    assert.equal(status, 0, stderr);
    assert.deepEqual(
      [summary.connect.connectedCount, summary.connect.failedCount, summary.connect.lostCount],
      [200, 0, 0],
    );
    assert.ok(
      (summary.connect.ratePerSecond ?? 0) > 100,
      `${summary.connect.ratePerSecond} conn/s`,
    );
    assertSaneLatency(summary.connect.latencyMicros, 200, "connect");
    assert.deepEqual(summary.errors, {});
  });
});

describe("a broker that is absent, silent or goes away", () => {
  test("a closed port: connection errors and exit 1, quickly", async () => {
    const closed = await listen(() => {});
    await closed.close();
    const args = ["pubsub", "-p", String(closed.port), "--publishers", "2", "--subscribers", "2"];
    const { status, summary, stderr, elapsedMs } = await bench([...args, "-d", "5"], 20_000);
    assert.equal(status, 1);
    assert.match(stderr, /^error RMQ_ERR_BENCH_CONNECT_FAILED: 4 of 4 clients could not connect/m);
    assert.deepEqual(summary.errors, { "connect:ECONNREFUSED": 4 });
    assert.equal(summary.ok, false);
    assert.ok(elapsedMs < 10_000, `took ${elapsedMs} ms`);
  });

  test("a server that accepts but never answers: connect timeouts within the deadline", async () => {
    const silent = await listen(() => {});
    try {
      const args = [
        "conn",
        "-p",
        String(silent.port),
        "-c",
        "20",
        "--connect-timeout",
        "1",
        "-d",
        "5",
      ];
      const { status, summary, elapsedMs } = await bench(args, 20_000);
      assert.equal(status, 1);
      assert.deepEqual(summary.errors, { "connect:timeout": 20 });
      assert.ok(elapsedMs < 8000, `took ${elapsedMs} ms`);
    } finally {
      await silent.close();
    }
  });

  test("a broker that stops mid-run: lost connections reported, the run still ends", async () => {
    const doomed = await startBroker({ logLevel: "debug" });
    const args = ["conn", "-p", String(doomed.port), "-c", "20", "-d", "8"];
    const run = bench([...args, "--client-id-prefix", "doomed-"], 30_000);
    // Kill the broker once it has seen all 20 clients connect.
    const connected = (): number =>
      doomed.logs.filter(
        (l) => l.msg === "client connected" && String(l.clientId).startsWith("doomed-"),
      ).length;
    const deadline = performance.now() + 15_000;
    while (connected() < 20 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(connected(), 20, "the broker saw every client connect");
    const killedAt = performance.now();
    await doomed.stop("SIGKILL");
    const { status, summary, stderr } = await run;
    const afterKillMs = performance.now() - killedAt;
    assert.equal(status, 1);
    assert.match(stderr, /RMQ_ERR_BENCH_RUN_FAILED/);
    assert.equal(summary.connect.connectedCount, 20);
    assert.equal(summary.connect.lostCount, 20);
    assert.ok(
      Object.keys(summary.errors).every((kind) => kind.startsWith("lost:")),
      stderr,
    );
    // Nothing left to hold: the run ends well before its 8 s.
    assert.ok(afterKillMs < 6000, `ended ${afterKillMs} ms after the broker died`);
  });
});
