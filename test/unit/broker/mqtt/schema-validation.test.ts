import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { compileSchemaValidation } from "../../../../src/broker/mqtt/schema-compile.ts";
import type { SchemaValidation } from "../../../../src/broker/mqtt/schema-validation.ts";
import { ErrorCode, RobustMQError } from "../../../../src/errors.ts";

const TEMPERATURE = JSON.stringify({
  type: "object",
  properties: { celsius: { type: "number", minimum: -273.15 }, at: { format: "date-time" } },
  required: ["celsius"],
});

function files(map: Record<string, string>) {
  return (file: string): string => {
    const text = map[file];
    if (text === undefined) {
      throw Object.assign(new Error(`ENOENT: ${file}`), { code: "ENOENT" });
    }
    return text;
  };
}

function compiled(): SchemaValidation {
  const validation = compileSchemaValidation(
    [
      { topic: "sensors/+/temperature", schema_file: "temp.json" },
      { topic: "sensors/#", schema: '{"type": "object"}' },
      { topic: "cmd/exact", schema: "true" },
    ],
    files({ "temp.json": TEMPERATURE }),
  );
  assert.ok(validation !== null);
  return validation;
}

const payload = (value: unknown) => Buffer.from(JSON.stringify(value));

describe("schema validation rules", () => {
  test("no rules: nothing to hold", () => {
    assert.equal(compileSchemaValidation([]), null);
  });

  test("the first rule whose filter matches applies", () => {
    const v = compiled();
    assert.equal(v.ruleFor("sensors/1/temperature")?.schemaFile, "temp.json");
    assert.equal(v.ruleFor("sensors/1/humidity")?.filter, "sensors/#");
    assert.equal(v.ruleFor("sensors")?.filter, "sensors/#", "'#' includes the parent level");
    assert.equal(v.ruleFor("cmd/exact")?.filter, "cmd/exact");
    assert.equal(v.ruleFor("cmd/other"), null);
    assert.equal(v.ruleFor("other/sensors/1/temperature"), null);
  });

  test("valid JSON passes; invalid JSON, non-UTF-8 and schema violations do not", () => {
    const v = compiled();
    const topic = "sensors/1/temperature";
    assert.equal(v.problem(topic, payload({ celsius: 21.5 })), null);
    assert.equal(v.problem(topic, payload({ celsius: 1, at: "2026-01-01T00:00:00Z" })), null);
    assert.match(v.problem(topic, Buffer.from("{celsius: 1")) ?? "", /not JSON/);
    assert.match(v.problem(topic, Buffer.from([0x7b, 0xff, 0x7d])) ?? "", /not UTF-8/);
    assert.match(v.problem(topic, Buffer.alloc(0)) ?? "", /not JSON/);
    assert.match(
      v.problem(topic, payload({ kelvin: 3 })) ?? "",
      /schema of sensors\/\+\/temperature: data must have required property 'celsius'/,
    );
    assert.match(v.problem(topic, payload({ celsius: -300 })) ?? "", /must be >= -273.15/);
    assert.match(v.problem(topic, payload({ celsius: 1, at: "noon" })) ?? "", /date-time/);
  });

  test("the second rule takes what the first does not match; unmatched topics pass anything", () => {
    const v = compiled();
    assert.equal(v.problem("sensors/1/humidity", payload({ any: 1 })), null);
    assert.match(v.problem("sensors/1/humidity", payload([1, 2])) ?? "", /must be object/);
    assert.equal(v.problem("cmd/exact", payload("anything")), null);
    assert.equal(v.problem("elsewhere", Buffer.from("not json")), null);
  });

  test("2020-12 schemas compile with their own dialect", () => {
    const schema = JSON.stringify({
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "array",
      prefixItems: [{ type: "string" }],
    });
    const v = compileSchemaValidation([{ topic: "a", schema }]);
    assert.equal(v?.problem("a", payload(["x", 1])), null);
    assert.match(v?.problem("a", payload([1])) ?? "", /must be string/);
  });
});

describe("schema compile errors name the key and the file", () => {
  function configError(run: () => unknown): string {
    try {
      run();
    } catch (err) {
      assert.ok(err instanceof RobustMQError);
      assert.equal(err.code, ErrorCode.CONFIG_INVALID);
      return err.message;
    }
    assert.fail("expected a config error");
  }

  test("an unreadable file", () => {
    const message = configError(() =>
      compileSchemaValidation([{ topic: "a", schema_file: "missing.json" }], files({})),
    );
    assert.match(
      message,
      /mqtt_schema_validation\.rules\[0\]\.schema_file = "missing\.json": cannot read the schema file: no such file/,
    );
  });

  test("a file that is not JSON", () => {
    const read = files({ "bad.json": "{ nope" });
    const message = configError(() =>
      compileSchemaValidation(
        [
          { topic: "a", schema: "{}" },
          { topic: "b", schema_file: "bad.json" },
        ],
        read,
      ),
    );
    assert.match(message, /rules\[1\]\.schema_file = "bad\.json": the schema is not JSON/);
  });

  test("an invalid schema, in a file or inline", () => {
    const read = files({ "s.json": '{"type": "strng"}' });
    assert.match(
      configError(() => compileSchemaValidation([{ topic: "a", schema_file: "s.json" }], read)),
      /rules\[0\]\.schema_file = "s\.json": not a valid JSON Schema: schema is invalid/,
    );
    assert.match(
      configError(() => compileSchemaValidation([{ topic: "a", schema: '{"minimum": "x"}' }])),
      /rules\[0\]\.schema: not a valid JSON Schema/,
    );
  });
});
