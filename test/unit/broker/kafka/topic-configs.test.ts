/** Kafka topic configs onto log options: the fsync policy a topic asks for with flush.*. */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  logOptionsFor,
  MESSAGE_BYTES_MAX,
  topicConfigProblem,
} from "../../../../src/broker/kafka/topic-configs.ts";

const BASE = { fsync_policy: "always" as const, fsync_interval_ms: 1000 };

test("flush.messages and flush.ms choose the topic's fsync policy; neither keeps the broker's", () => {
  const cases: Array<[Record<string, string>, string, number]> = [
    [{}, "always", 1000],
    [{ "flush.messages": "1" }, "always", 1000],
    [{ "flush.messages": "1", "flush.ms": "50" }, "always", 1000],
    [{ "flush.ms": "250" }, "interval", 250],
    [{ "flush.messages": "10000", "flush.ms": "250" }, "interval", 250],
    [{ "flush.messages": "9223372036854775807" }, "never", 1000],
    [{ "flush.ms": "9223372036854775807" }, "never", 1000],
  ];
  for (const [configs, policy, interval] of cases) {
    assert.equal(topicConfigProblem(configs), null, JSON.stringify(configs));
    const options = logOptionsFor(BASE, configs);
    assert.deepEqual(
      [options.fsync_policy, options.fsync_interval_ms],
      [policy, interval],
      JSON.stringify(configs),
    );
  }
});

test("out-of-range flush values are refused, naming the range", () => {
  for (const value of ["0", "-1", "1.5", "9223372036854775808", "soon"]) {
    assert.match(
      topicConfigProblem({ "flush.ms": value }) ?? "",
      /flush\.ms=.*must be an integer from 1 to 9223372036854775807/,
    );
  }
});

test("max.message.bytes above the broker's 8 MiB limit is refused, naming it; up to it is kept", () => {
  for (const value of ["8388609", "16777216", "2147483647"]) {
    assert.match(
      topicConfigProblem({ "max.message.bytes": value }) ?? "",
      /max\.message\.bytes=\d+: must be an integer from 64 to 8388608 \(this broker's largest/,
    );
  }
  assert.equal(MESSAGE_BYTES_MAX, 8_388_608);
  for (const value of ["64", "1048588", "8388608"]) {
    assert.equal(topicConfigProblem({ "max.message.bytes": value }), null, value);
    const options = logOptionsFor(BASE, { "max.message.bytes": value });
    assert.equal(options.batch_bytes_max, Number(value), "honoured as given");
  }
  // A batch must still fit a segment, as in Kafka.
  const small = logOptionsFor(BASE, { "max.message.bytes": "8388608", "segment.bytes": "4096" });
  assert.equal(small.batch_bytes_max, 4096);
});
