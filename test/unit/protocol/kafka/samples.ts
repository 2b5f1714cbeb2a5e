/**
 * Sample messages built from the schemas themselves: for a message at one version, a value for
 * every field that exists at that version (non-default, so tagged fields are written too), with
 * nullable fields null in every other sample. Used by the round-trip tests for every version.
 */
import type { KafkaStruct, KafkaValue } from "../../../../src/protocol/kafka/message-codec.ts";
import {
  type FieldSpec,
  fieldKey,
  inRange,
  parseVersions,
} from "../../../../src/protocol/kafka/schema-spec.ts";

const UUID = Buffer.from("0123456789abcdef0123456789abcdef", "hex").toString("base64url");

function scalar(type: string, seed: number): KafkaValue {
  switch (type) {
    case "int8":
      return (seed % 100) - 3;
    case "int16":
      return 1000 + (seed % 1000);
    case "uint16":
      return 60_000 + (seed % 1000);
    case "int32":
      return 100_000 + (seed % 100_000);
    case "uint32":
      return 4_000_000_000 + (seed % 1000);
    case "int64":
      return 10_000_000_000n + BigInt(seed);
    case "float64":
      return seed + 0.5;
    case "bool":
      return true;
    case "uuid":
      return UUID;
    case "string":
      return `s${seed}-é`;
    case "bytes":
    case "records":
      return Buffer.from(`bytes-${seed}`);
    default:
      throw new Error(`no sample for ${type}`);
  }
}

export function sampleStruct(
  fields: readonly FieldSpec[],
  version: number,
  seed: number,
  useNull: boolean,
): KafkaStruct {
  const value: KafkaStruct = {};
  fields.forEach((field, i) => {
    if (!inRange(parseVersions(field.versions), version)) return;
    const nullable = inRange(parseVersions(field.nullableVersions), version);
    const fieldSeed = seed * 31 + i;
    if (nullable && useNull) {
      value[fieldKey(field.name)] = null;
      return;
    }
    value[fieldKey(field.name)] = sampleOf(field, version, fieldSeed, useNull);
  });
  return value;
}

function sampleOf(field: FieldSpec, version: number, seed: number, useNull: boolean): KafkaValue {
  if (field.type.startsWith("[]")) {
    const element = field.type.slice(2);
    return [0, 1].map((i) =>
      field.fields === undefined
        ? scalar(element, seed + i)
        : sampleStruct(field.fields, version, seed + i, useNull),
    );
  }
  if (field.fields !== undefined) return sampleStruct(field.fields, version, seed, useNull);
  return scalar(field.type, seed);
}
