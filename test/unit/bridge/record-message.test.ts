/**
 * What a Kafka record becomes in MQTT (src/bridge/record-message.ts): the templated topic, and
 * properties from its headers that an MQTT 5 PUBLISH can carry.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  propertiesBytesMax,
  recordProperties,
  templatedTopic,
} from "../../../src/bridge/record-message.ts";
import { VARINT_MAX } from "../../../src/protocol/mqtt/constants.ts";
import { encodePublish } from "../../../src/protocol/mqtt/encoder.ts";

describe("templatedTopic", () => {
  test("{key}, {topic} and {partition} are replaced, each as often as it appears", () => {
    const topic = templatedTopic("{topic}/{partition}/{key}/{key}", Buffer.from("d1"), "cmd", 2);
    assert.equal(topic, "cmd/2/d1/d1");
    assert.equal(templatedTopic("a/{key}/b", null, "cmd", 0), "a//b", "a null key is empty");
  });

  test("a key is taken literally: no replacement patterns, no placeholders expanded again", () => {
    const cases: Array<[string, string]> = [
      ["a$&b", "t2/a$&b"],
      ["x$'", "t2/x$'"],
      ["y$`", "t2/y$`"],
      ["z$$", "t2/z$$"],
      ["{topic}", "t2/{topic}"],
      ["{partition}", "t2/{partition}"],
      ["{key}", "t2/{key}"],
    ];
    for (const [key, expected] of cases) {
      assert.equal(templatedTopic("t2/{key}", Buffer.from(key), "kt", 3), expected, key);
    }
  });

  test("a result that is no valid topic name, or starts with $, is null", () => {
    for (const key of ["a+b", "a/#", "a\0b"]) {
      assert.equal(templatedTopic("t/{key}", Buffer.from(key), "kt", 0), null, key);
    }
    assert.equal(templatedTopic("{key}/x", Buffer.from("$SYS"), "kt", 0), null);
    assert.equal(templatedTopic("{key}", null, "kt", 0), null, "empty topic");
    assert.equal(templatedTopic("t/{key}", Buffer.alloc(70_000, 0x61), "kt", 0), null, "too long");
  });

  test("a key that is not UTF-8 gives no topic, so different keys never share one", () => {
    for (const bytes of [[0xff], [0xfe], [0xc3], [0x61, 0xed, 0xa0, 0x80]]) {
      assert.equal(templatedTopic("t2/{key}", Buffer.from(bytes), "kt", 0), null, String(bytes));
    }
    assert.equal(templatedTopic("t2/{key}", Buffer.from("é✓"), "kt", 0), "t2/é✓");
    assert.equal(templatedTopic("t2/{partition}", Buffer.from([0xff]), "kt", 0), "t2/0", "unused");
  });
});

/** Headers as the log decodes them: a string key, a Buffer value (or null). */
function headers(...pairs: Array<[string, string | Buffer | null]>) {
  return pairs.map(([key, value]) => ({
    key,
    value: typeof value === "string" ? Buffer.from(value) : value,
  }));
}

describe("recordProperties", () => {
  const ROOMY = 1 << 20;

  test("headers become user properties, mqtt.content_type the content type", () => {
    const result = recordProperties(
      headers(["unit", "C"], ["mqtt.qos", "1"], ["mqtt.content_type", "text/plain"], ["e", null]),
      ROOMY,
    );
    assert.deepEqual(result.properties, {
      contentType: "text/plain",
      userProperties: [
        ["unit", "C"],
        ["e", ""],
      ],
    });
    assert.equal(result.leftOutCount, 0);
    assert.equal(recordProperties([], ROOMY).properties, undefined, "no properties at all");
  });

  test("a header an MQTT string cannot carry is left out, the others kept", () => {
    const result = recordProperties(
      headers(
        ["ok", "1"],
        ["h", "a\0b"],
        ["k\0", "v"],
        ["lone\uD800", "v"],
        ["big", "x".repeat(70_000)],
        ["bigkey".padEnd(66_000, "k"), "v"],
        ["wide", "é".repeat(33_000)], // 66,000 bytes in 33,000 characters
        ["mqtt.content_type", "a\0"],
        ["ok2", "2"],
      ),
      ROOMY,
    );
    assert.deepEqual(result.properties, {
      userProperties: [
        ["ok", "1"],
        ["ok2", "2"],
      ],
    });
    assert.equal(result.leftOutCount, 7);
    assert.deepEqual(result.leftOut, { key: "h", reason: "U+0000" });
    // Every property left is one the encoder takes (it asserts, and throws, otherwise).
    const properties = result.properties;
    const payload = Buffer.alloc(0);
    const packet = {
      type: "publish",
      topic: "t",
      payload,
      qos: 1,
      retain: true,
      dup: false,
    } as const;
    assert.ok(encodePublish({ ...packet, packetId: 1, properties }, 5).length > 0);
  });

  test("the properties never take more room than the packet has left", () => {
    const list = headers(["a", "x".repeat(60_000)], ["b", "y".repeat(60_000)], ["c", "z"]);
    const result = recordProperties(list, 60_100);
    assert.deepEqual(
      result.properties?.userProperties?.map(([key]) => key),
      ["a", "c"],
    );
    assert.deepEqual(result.leftOut, { key: "b", reason: "no room left in the MQTT packet" });
    assert.equal(recordProperties(list, -1).properties, undefined);
    assert.equal(propertiesBytesMax("t", 0), VARINT_MAX - 8 - 1);
    assert.ok(propertiesBytesMax("t", VARINT_MAX) < 0);
  });
});
