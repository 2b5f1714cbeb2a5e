/**
 * One worker's run, in-process, against scripted servers: publishers keep to their inflight
 * window and complete QoS 1 and QoS 2 flows, subscribers acknowledge as the protocol asks and
 * measure latency, connections are paced and cut off at the connect phase's deadline.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import type { BenchCommand, RawBenchFlags } from "../../../src/bench/option-specs.ts";
import { parseBenchOptions } from "../../../src/bench/options.ts";
import { workerPlans } from "../../../src/bench/plan.ts";
import type { WorkerMessage, WorkerPlan, WorkerResult } from "../../../src/bench/stats.ts";
import { benchPayload, nowMicros } from "../../../src/bench/wire.ts";
import { WorkerRun } from "../../../src/bench/worker-run.ts";
import type { Packet } from "../../../src/protocol/mqtt/index.ts";
import { accepting, type FakeBroker, type FakeHandler, fakeBroker } from "./fake-broker.ts";

const brokers: FakeBroker[] = [];
after(async () => {
  await Promise.all(brokers.map((b) => b.close()));
});

async function broker(handler: FakeHandler): Promise<FakeBroker> {
  const started = await fakeBroker(handler);
  brokers.push(started);
  return started;
}

/** Drives a WorkerRun like the main thread does, with a deadline on every wait. */
class Driver {
  readonly run: WorkerRun;
  private readonly seen: WorkerMessage[] = [];
  private waiting: (() => void) | null = null;

  constructor(plan: WorkerPlan) {
    this.run = new WorkerRun(plan, (message) => {
      this.seen.push(message);
      this.waiting?.();
    });
    this.run.start();
    this.run.handle({ type: "connect" });
  }

  async until(type: WorkerMessage["type"], timeoutMs = 5000): Promise<WorkerMessage> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.seen.find((m) => m.type === type);
      if (found !== undefined) return found;
      const left = deadline - performance.now();
      assert.ok(left > 0, `no ${type} report in ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Messages received so far, from a fresh progress report. */
  receivedCount(): number {
    this.run.handle({ type: "poll" });
    const last = this.seen.findLast((m) => m.type === "progress");
    return last?.type === "progress" ? last.counters.receivedCount : 0;
  }

  async close(): Promise<WorkerResult> {
    this.run.handle({ type: "close" });
    const final = await this.until("final");
    assert.ok(final.type === "final");
    return final.result;
  }
}

function plan(command: BenchCommand, port: number, flags: RawBenchFlags): WorkerPlan {
  const options = parseBenchOptions(
    command,
    { port: String(port), workers: "1", keepalive: "0", ...flags },
    { cpuCount: 1, pid: 7, readFile: () => "" },
  );
  return workerPlans(options)[0];
}

/** Acknowledges QoS 1 and 2 publishes a turn later, tracking the most ever unacknowledged. */
function ackingBroker(): {
  handler: FakeHandler;
  maxOutstanding: () => number;
  received: () => number;
} {
  let outstanding = 0;
  let maxOutstanding = 0;
  let received = 0;
  const handler = accepting((connection, packet: Packet) => {
    if (packet.type === "publish") {
      received++;
      if (packet.qos === 0) return;
      outstanding++;
      maxOutstanding = Math.max(maxOutstanding, outstanding);
      const packetId = packet.packetId ?? 0;
      const type = packet.qos === 1 ? "puback" : "pubrec";
      setImmediate(() => {
        if (type === "puback") outstanding--;
        connection.send({ type, packetId, reasonCode: 0 });
      });
    } else if (packet.type === "pubrel") {
      outstanding--;
      connection.send({ type: "pubcomp", packetId: packet.packetId, reasonCode: 0 });
    }
  });
  return { handler, maxOutstanding: () => maxOutstanding, received: () => received };
}

describe("publishers", () => {
  for (const qos of ["1", "2"]) {
    test(`QoS ${qos}: -n messages each, all acknowledged, never more than --inflight out`, async () => {
      const fake = ackingBroker();
      const server = await broker(fake.handler);
      const driver = new Driver(
        plan("pub", server.port, { clients: "3", qos, count: "500", inflight: "8" }),
      );
      await driver.until("connected");
      driver.run.handle({ type: "publish" });
      await driver.until("published");
      const result = await driver.close();
      assert.equal(result.counters.sentCount, 1500);
      assert.equal(result.counters.ackedCount, 1500);
      assert.equal(fake.received(), 1500);
      assert.ok(fake.maxOutstanding() <= 3 * 8, `max outstanding ${fake.maxOutstanding()}`);
      assert.ok(result.ackLatency !== null, "ack latency recorded");
      assert.deepEqual(result.errors, {});
    });
  }

  test("QoS 0 at a paced rate sends what the rate allows", async () => {
    const fake = ackingBroker();
    const server = await broker(fake.handler);
    const driver = new Driver(plan("pub", server.port, { clients: "2", rate: "50" }));
    await driver.until("connected");
    driver.run.handle({ type: "publish" });
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    driver.run.handle({ type: "stop" });
    const elapsedSeconds = (performance.now() - started) / 1000;
    const result = await driver.close();
    // Each of 2 publishers: one at once, then 50 a second (the second starts 10 ms later).
    const expected = 2 * (1 + 50 * elapsedSeconds);
    const sent = result.counters.sentCount;
    assert.ok(sent <= expected + 1 && sent >= expected - 6, `sent ${sent}, expected ${expected}`);
  });

  test("a publisher whose connection is lost is done, with the loss counted", async () => {
    const server = await broker(
      accepting((connection, packet) => {
        if (packet.type === "publish") connection.socket.destroy();
      }),
    );
    const driver = new Driver(plan("pub", server.port, { clients: "1", qos: "1", count: "100" }));
    await driver.until("connected");
    driver.run.handle({ type: "publish" });
    await driver.until("published");
    const result = await driver.close();
    assert.equal(result.counters.lostCount, 1);
    assert.equal(result.counters.publishersDoneCount, 1);
    assert.match(Object.keys(result.errors).join(), /^lost:(closed|ECONNRESET)$/);
  });
});

/** Grants every SUBSCRIBE, then sends `count` messages at the subscription's QoS. */
function pushingBroker(count: number, acks: Packet["type"][]): FakeHandler {
  return accepting((connection, packet) => {
    acks.push(packet.type);
    if (packet.type === "subscribe") {
      const qos = packet.subscriptions[0].qos;
      connection.send({ type: "suback", packetId: packet.packetId, reasonCodes: [qos] });
      for (let i = 1; i <= count; i++) {
        const payload = benchPayload(32);
        payload.writeDoubleLE(nowMicros(), 0);
        const packetId = qos === 0 ? undefined : i;
        connection.send({
          type: "publish",
          topic: "bench/0",
          payload,
          qos,
          retain: false,
          dup: false,
          packetId,
        });
      }
    } else if (packet.type === "pubrec") {
      connection.send({ type: "pubrel", packetId: packet.packetId, reasonCode: 0 });
    }
  });
}

function count(types: readonly Packet["type"][], type: Packet["type"]): number {
  return types.filter((t) => t === type).length;
}

describe("subscribers", () => {
  const expectations: Array<[string, Packet["type"][]]> = [
    ["0", []],
    ["1", ["puback"]],
    ["2", ["pubrec", "pubcomp"]],
  ];
  for (const [qos, ackTypes] of expectations) {
    test(`QoS ${qos}: counts every message, acks with ${ackTypes.join(" + ") || "nothing"}`, async () => {
      const seen: Packet["type"][] = [];
      const server = await broker(pushingBroker(200, seen));
      const driver = new Driver(plan("sub", server.port, { clients: "1", qos }));
      await driver.until("connected");
      driver.run.handle({ type: "subscribe" });
      await driver.until("subscribed");
      const lastAck = ackTypes.at(-1);
      const deadline = performance.now() + 5000;
      while (
        driver.receivedCount() < 200 ||
        (lastAck !== undefined && count(seen, lastAck) < 200)
      ) {
        assert.ok(performance.now() < deadline, `received ${driver.receivedCount()}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const result = await driver.close();
      assert.equal(result.counters.receivedCount, 200);
      assert.equal(result.counters.subscribedCount, 1);
      for (const type of ackTypes) assert.equal(count(seen, type), 200, type);
      assert.ok(result.latency !== null, "latency measured from the payload header");
    });
  }

  test("a refused subscription is an error naming the SUBACK code", async () => {
    const server = await broker(
      accepting((connection, packet) => {
        if (packet.type === "subscribe") {
          connection.send({ type: "suback", packetId: packet.packetId, reasonCodes: [0x87] });
        }
      }),
    );
    const driver = new Driver(plan("sub", server.port, { clients: "2" }));
    await driver.until("connected");
    driver.run.handle({ type: "subscribe" });
    await driver.until("subscribed");
    const result = await driver.close();
    assert.deepEqual(result.errors, { "subscribe:suback 0x87 NOT_AUTHORIZED": 2 });
    assert.equal(result.counters.subscribeFailedCount, 2);
  });
});

describe("connecting", () => {
  test("--conn-rate paces new connections", async () => {
    const server = await broker(accepting());
    const started = performance.now();
    const driver = new Driver(plan("conn", server.port, { clients: "11", connRate: "50" }));
    await driver.until("connected");
    const elapsedMs = performance.now() - started;
    const result = await driver.close();
    assert.equal(result.counters.connectedCount, 11);
    // The 11th connection is due 200 ms after the first.
    assert.ok(elapsedMs >= 190 && elapsedMs < 2000, `${elapsedMs} ms`);
  });

  test("the connect phase deadline cuts off pending and untried clients", async () => {
    const server = await broker(() => {}); // never answers
    const slow = plan("conn", server.port, { clients: "5", connRate: "4", connectTimeout: "30" });
    const driver = new Driver({ ...slow, connectPhaseMs: 300 });
    const started = performance.now();
    await driver.until("connected");
    assert.ok(performance.now() - started < 1500);
    const result = await driver.close();
    assert.equal(result.counters.connectFailedCount, 5);
    assert.deepEqual(result.errors, { "connect:deadline": 5 });
  });
});
