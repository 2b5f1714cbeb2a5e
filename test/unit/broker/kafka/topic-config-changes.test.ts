/**
 * What AlterConfigs and IncrementalAlterConfigs make of a topic's configs: Kafka's replace and
 * SET / DELETE / APPEND / SUBTRACT semantics, the request checks before them, and validation by
 * CreateTopics' rules.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { configEntries } from "../../../../src/broker/kafka/config-entries.ts";
import {
  type AlterationResult,
  alterationRequestProblem,
  type ConfigAlteration,
  ConfigOperation,
  configDifference,
  incrementalConfigs,
  replacedConfigs,
} from "../../../../src/broker/kafka/topic-config-changes.ts";
import { defaultConfig } from "../../../../src/config/load.ts";
import { KafkaError } from "../../../../src/protocol/kafka/error-codes.ts";

const { SET, DELETE, APPEND, SUBTRACT } = ConfigOperation;
const DEFAULTS = configEntries(defaultConfig()).topicDefaults;

function op(operation: number, name: string, value: string | null = null): ConfigAlteration {
  return { name, operation, value };
}

function configsOf(result: AlterationResult): Record<string, string> {
  assert.ok(result.ok, result.ok ? "" : result.message);
  return result.configs;
}

function refusal(result: AlterationResult): [number, string] {
  assert.ok(!result.ok, "refused");
  return [result.errorCode, result.message];
}

test("replace: exactly the configs named; the others go back to their defaults", () => {
  const configs = configsOf(
    replacedConfigs([op(SET, "retention.ms", "1000"), op(SET, "cleanup.policy", "compact")]),
  );
  assert.deepEqual(configs, { "retention.ms": "1000", "cleanup.policy": "compact" });
  assert.deepEqual(configsOf(replacedConfigs([])), {}, "none named: every config at its default");
});

test("replace and incremental validate with CreateTopics' rules: unknown names, bad values", () => {
  for (const result of [
    replacedConfigs([op(SET, "retention.ms", "1000"), op(SET, "no.such.config", "1")]),
    incrementalConfigs({}, [op(SET, "no.such.config", "1")], DEFAULTS),
    incrementalConfigs({}, [op(DELETE, "no.such.config")], DEFAULTS),
  ]) {
    const [code, message] = refusal(result);
    assert.equal(code, KafkaError.INVALID_CONFIG);
    assert.match(message, /config "no\.such\.config" is not supported \(supported: retention\.ms/);
  }
  const cases: Array<[string, string, RegExp]> = [
    ["retention.ms", "soon", /retention\.ms=soon: must be an integer from -1/],
    ["segment.bytes", "100", /segment\.bytes=100: must be an integer from 1024/],
    ["max.message.bytes", "16777216", /this broker's largest record batch/],
    ["cleanup.policy", "forever", /cleanup\.policy=forever: must be "delete", "compact"/],
    ["min.cleanable.dirty.ratio", "2", /must be a number from 0 to 1/],
  ];
  for (const [name, value, pattern] of cases) {
    for (const result of [
      replacedConfigs([op(SET, name, value)]),
      incrementalConfigs({}, [op(SET, name, value)], DEFAULTS),
    ]) {
      const [code, message] = refusal(result);
      assert.equal(code, KafkaError.INVALID_CONFIG, `${name}=${value}`);
      assert.match(message, pattern);
    }
  }
});

test("names of Object.prototype's members are unknown configs like any other, never a crash", () => {
  for (const name of ["toString", "constructor", "hasOwnProperty", "__proto__"]) {
    for (const result of [
      replacedConfigs([op(SET, name, "1")]),
      incrementalConfigs({}, [op(SET, name, "1")], DEFAULTS),
      incrementalConfigs({}, [op(DELETE, name)], DEFAULTS),
    ]) {
      const [code, message] = refusal(result);
      assert.equal(code, KafkaError.INVALID_CONFIG, name);
      assert.ok(message.startsWith(`config "${name}" is not supported`), message);
    }
  }
});

test("SET and DELETE change only the configs named; deleting an unset one is no change", () => {
  const current = { "retention.ms": "1000", "segment.bytes": "4096" };
  const configs = configsOf(
    incrementalConfigs(
      current,
      [op(SET, "retention.ms", "2000"), op(DELETE, "segment.bytes"), op(DELETE, "segment.ms")],
      DEFAULTS,
    ),
  );
  assert.deepEqual(configs, { "retention.ms": "2000" });
  assert.deepEqual(current, { "retention.ms": "1000", "segment.bytes": "4096" }, "not mutated");
});

test("APPEND and SUBTRACT work on cleanup.policy, from the default when the topic sets none", () => {
  const append = (current: Record<string, string>, value: string) =>
    configsOf(incrementalConfigs(current, [op(APPEND, "cleanup.policy", value)], DEFAULTS))[
      "cleanup.policy"
    ];
  const subtract = (current: Record<string, string>, value: string) =>
    configsOf(incrementalConfigs(current, [op(SUBTRACT, "cleanup.policy", value)], DEFAULTS))[
      "cleanup.policy"
    ];
  assert.equal(append({}, "compact"), "delete,compact", "the default delete, then compact");
  assert.equal(append({ "cleanup.policy": "compact" }, "delete"), "compact,delete");
  assert.equal(append({ "cleanup.policy": "compact" }, "compact"), "compact", "no duplicates");
  assert.equal(append({ "cleanup.policy": "compact" }, " delete , delete"), "compact,delete");
  assert.equal(subtract({ "cleanup.policy": "compact,delete" }, "delete"), "compact");
  assert.equal(subtract({ "cleanup.policy": "compact" }, "delete"), "compact", "absent: no change");
  assert.equal(subtract({ "cleanup.policy": "delete, compact" }, "compact"), "delete");
  // Nothing left is no policy at all, which no log here can follow.
  const [code, message] = refusal(
    incrementalConfigs({}, [op(SUBTRACT, "cleanup.policy", "delete")], DEFAULTS),
  );
  assert.equal(code, KafkaError.INVALID_CONFIG);
  assert.match(message, /cleanup\.policy=: must be/);
  assert.equal(
    refusal(incrementalConfigs({}, [op(APPEND, "cleanup.policy", "forever")], DEFAULTS))[0],
    KafkaError.INVALID_CONFIG,
  );
});

test("APPEND and SUBTRACT on a config that is not a list: INVALID_CONFIG, as Kafka", () => {
  for (const [operation, word] of [
    [APPEND, "APPEND"],
    [SUBTRACT, "SUBTRACT"],
  ] as const) {
    const result = incrementalConfigs(
      { "retention.ms": "1000" },
      [op(SET, "segment.ms", "5000"), op(operation, "retention.ms", "2000")],
      DEFAULTS,
    );
    assert.deepEqual(refusal(result), [
      KafkaError.INVALID_CONFIG,
      `Can't ${word} to key retention.ms because its type is not LIST.`,
    ]);
  }
});

test("the result is validated whole: a value that breaks the rules refuses every change", () => {
  const result = incrementalConfigs(
    {},
    [op(SET, "retention.ms", "5"), op(SET, "flush.ms", "0")],
    DEFAULTS,
  );
  assert.match(refusal(result)[1], /flush\.ms=0/);
});

test("request checks: a config named twice, null values, unknown operations (INVALID_REQUEST)", () => {
  assert.equal(
    alterationRequestProblem([op(SET, "retention.ms", "1"), op(DELETE, "segment.ms")]),
    null,
  );
  assert.equal(
    alterationRequestProblem([op(SET, "retention.ms", "1"), op(DELETE, "retention.ms")]),
    "Error due to duplicate config keys",
  );
  assert.equal(
    alterationRequestProblem([op(SET, "retention.ms"), op(APPEND, "cleanup.policy")]),
    "Null value not supported for : retention.ms, cleanup.policy",
  );
  assert.equal(alterationRequestProblem([op(7, "retention.ms", "1")]), "Unknown operation type 7");
  assert.equal(
    alterationRequestProblem([op(-1, "retention.ms", "1")]),
    "Unknown operation type -1",
  );
});

test("configDifference names what was set and what was removed", () => {
  assert.deepEqual(
    configDifference(
      { "retention.ms": "1", "segment.ms": "2", "cleanup.policy": "compact" },
      { "retention.ms": "5", "cleanup.policy": "compact", "flush.ms": "10" },
    ),
    { set: { "retention.ms": "5", "flush.ms": "10" }, removed: ["segment.ms"] },
  );
});
