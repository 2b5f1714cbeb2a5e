/**
 * Compiles one message schema at one version into a reader and a writer, the way Kafka's
 * generator turns the same JSON into Java. Everything version-dependent is decided here, once:
 * which fields exist, which are nullable or tagged, and whether strings, bytes and arrays use
 * the compact (flexible, unsigned varint length + 1) or the classic (int16/int32 length) form.
 *
 * Values: int8/int16/uint16/int32 and float64 are numbers, int64 a bigint, uuid a base64url
 * string (Kafka's text form), string a string, bytes and records a Buffer (a view into the frame
 * when decoding), arrays arrays, structs objects keyed by camelCase field name. A decoded message
 * has every field of the schema: those absent at its version hold their default. When encoding,
 * a missing (undefined) field is written as its default.
 */
import { ByteReader } from "./byte-reader.ts";
import { ByteWriter } from "./byte-writer.ts";
import { KafkaCodecError } from "./codec-error.ts";
import {
  type FieldSpec,
  fieldKey,
  inRange,
  type MessageSpec,
  parseVersions,
  type VersionRange,
} from "./schema-spec.ts";

export type KafkaValue =
  | number
  | bigint
  | string
  | boolean
  | null
  | Buffer
  | KafkaValue[]
  | { [key: string]: KafkaValue };
export type KafkaStruct = { [key: string]: KafkaValue };

interface Codec {
  read(reader: ByteReader, path: string): KafkaValue;
  write(writer: ByteWriter, value: KafkaValue, path: string): void;
  /** The value a field of this type holds when absent. */
  zero(): KafkaValue;
  /** Fewest bytes one value takes; bounds array counts before allocating. */
  minBytes: number;
}

interface FieldPlan {
  key: string;
  /** Where the field is in the message, for error messages (arrays add no index). */
  path: string;
  codec: Codec;
  defaultValue: () => KafkaValue;
}

interface TaggedPlan extends FieldPlan {
  tag: number;
}

/** A message (or nested struct) at one version. */
export interface StructCodec {
  read(reader: ByteReader): KafkaStruct;
  write(writer: ByteWriter, value: KafkaStruct): void;
}

const ZERO_UUID = Buffer.alloc(16).toString("base64url");
const INT16_MAX = 0x7fff;

function fail(problem: "negative_length" | "oversize" | "invalid", path: string, text: string) {
  return new KafkaCodecError(problem, `${path}: ${text}`);
}

function checkLength(length: number, nullable: boolean, path: string): void {
  if (length < -1 || (length === -1 && !nullable)) {
    throw fail("negative_length", path, `length ${length} is not allowed`);
  }
}

/** Lengths: classic int16/int32 with -1 for null, or compact unsigned varint N + 1 (0 = null). */
function readLength(reader: ByteReader, compact: boolean, wide: boolean, path: string): number {
  if (compact) return reader.uvarint(path) - 1;
  return wide ? reader.int32(path) : reader.int16(path);
}

function writeLength(writer: ByteWriter, length: number, compact: boolean, wide: boolean): void {
  if (compact) writer.uvarint(length + 1);
  else if (wide) writer.int32(length);
  else writer.int16(length);
}

function numberCodec(
  minBytes: number,
  read: (r: ByteReader, path: string) => number,
  write: (w: ByteWriter, v: number) => void,
): Codec {
  return {
    minBytes,
    read,
    write: (w, v, path) => {
      if (typeof v !== "number") throw fail("invalid", path, `expected a number, got ${typeof v}`);
      try {
        write(w, v);
      } catch (err) {
        throw fail("invalid", path, String(err));
      }
    },
    zero: () => 0,
  };
}

const PRIMITIVES: Readonly<Record<string, Codec>> = {
  int8: numberCodec(
    1,
    (r, p) => r.int8(p),
    (w, v) => w.int8(v),
  ),
  int16: numberCodec(
    2,
    (r, p) => r.int16(p),
    (w, v) => w.int16(v),
  ),
  uint16: numberCodec(
    2,
    (r, p) => r.uint16(p),
    (w, v) => w.uint16(v),
  ),
  int32: numberCodec(
    4,
    (r, p) => r.int32(p),
    (w, v) => w.int32(v),
  ),
  uint32: numberCodec(
    4,
    (r, p) => r.uint32(p),
    (w, v) => w.uint32(v),
  ),
  float64: numberCodec(
    8,
    (r, p) => r.float64(p),
    (w, v) => w.float64(v),
  ),
  int64: {
    minBytes: 8,
    read: (r, p) => r.int64(p),
    write: (w, v, p) => {
      if (typeof v !== "bigint") throw fail("invalid", p, `expected a bigint, got ${typeof v}`);
      try {
        w.int64(v);
      } catch (err) {
        throw fail("invalid", p, String(err));
      }
    },
    zero: () => 0n,
  },
  bool: {
    minBytes: 1,
    read: (r, p) => r.int8(p) !== 0,
    write: (w, v, p) => {
      if (typeof v !== "boolean") throw fail("invalid", p, `expected a boolean, got ${typeof v}`);
      w.int8(v ? 1 : 0);
    },
    zero: () => false,
  },
  uuid: {
    minBytes: 16,
    read: (r, p) => r.bytes(16, p).toString("base64url"),
    write: (w, v, p) => {
      const bytes = typeof v === "string" ? Buffer.from(v, "base64url") : null;
      if (bytes === null || bytes.length !== 16) throw fail("invalid", p, "expected a uuid");
      w.bytes(bytes);
    },
    zero: () => ZERO_UUID,
  },
};

function stringCodec(compact: boolean, nullable: boolean): Codec {
  return {
    minBytes: compact ? 1 : 2,
    read(reader, path) {
      const length = readLength(reader, compact, false, path);
      checkLength(length, nullable, path);
      if (length === -1) return null;
      return reader.utf8(length, path);
    },
    write(writer, value, path) {
      if (value === null) {
        if (!nullable) throw fail("invalid", path, "null in a non-nullable string");
        writeLength(writer, -1, compact, false);
        return;
      }
      if (typeof value !== "string") throw fail("invalid", path, "expected a string");
      const byteLength = Buffer.byteLength(value, "utf8");
      if (!compact && byteLength > INT16_MAX) throw fail("oversize", path, "string too long");
      writeLength(writer, byteLength, compact, false);
      writer.utf8(value, byteLength);
    },
    zero: () => "",
  };
}

function bytesCodec(compact: boolean, nullable: boolean, zeroIsNull: boolean): Codec {
  return {
    minBytes: compact ? 1 : 4,
    read(reader, path) {
      const length = readLength(reader, compact, true, path);
      checkLength(length, nullable, path);
      if (length === -1) return null;
      return reader.bytes(length, path);
    },
    write(writer, value, path) {
      if (value === null) {
        if (!nullable) throw fail("invalid", path, "null in non-nullable bytes");
        writeLength(writer, -1, compact, true);
        return;
      }
      if (!Buffer.isBuffer(value)) throw fail("invalid", path, "expected a Buffer");
      writeLength(writer, value.length, compact, true);
      writer.bytes(value);
    },
    zero: () => (zeroIsNull ? null : Buffer.alloc(0)),
  };
}

function arrayCodec(element: Codec, compact: boolean, nullable: boolean): Codec {
  return {
    minBytes: compact ? 1 : 4,
    read(reader, path) {
      const count = readLength(reader, compact, true, path);
      checkLength(count, nullable, path);
      if (count === -1) return null;
      // Bounds the allocation by what the frame can actually hold.
      if (count * Math.max(1, element.minBytes) > reader.remaining) {
        throw fail("oversize", path, `${count} elements cannot fit in ${reader.remaining} bytes`);
      }
      const items: KafkaValue[] = new Array(count);
      for (let i = 0; i < count; i++) items[i] = element.read(reader, path);
      return items;
    },
    write(writer, value, path) {
      if (value === null) {
        if (!nullable) throw fail("invalid", path, "null in a non-nullable array");
        writeLength(writer, -1, compact, true);
        return;
      }
      if (!Array.isArray(value)) throw fail("invalid", path, "expected an array");
      writeLength(writer, value.length, compact, true);
      for (const item of value) element.write(writer, item, path);
    },
    zero: () => [],
  };
}

function structFieldCodec(struct: CompiledStruct, nullable: boolean): Codec {
  return {
    minBytes: nullable ? 1 : struct.minBytes,
    read(reader, path) {
      // Kafka marks a nullable struct with a leading int8: -1 null, 1 present.
      if (nullable && reader.int8(path) < 0) return null;
      return struct.read(reader);
    },
    write(writer, value, path) {
      if (nullable) {
        writer.int8(value === null ? -1 : 1);
        if (value === null) return;
      }
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        throw fail("invalid", path, "expected a struct");
      }
      if (Buffer.isBuffer(value)) throw fail("invalid", path, "expected a struct");
      struct.write(writer, value);
    },
    zero: () => struct.defaults(),
  };
}

/**
 * A struct at one version. Every field's path is fixed when compiling, so that reading and
 * writing build no strings: a path built per field and message took about a tenth of a warm
 * decode-and-encode loop.
 */
class CompiledStruct {
  readonly path: string;
  readonly fields: FieldPlan[];
  readonly tagged: TaggedPlan[];
  /** Fields that exist only in other versions: filled with defaults when decoding. */
  readonly absent: FieldPlan[];
  readonly flexible: boolean;
  readonly minBytes: number;
  readonly #tagCountLabel: string;

  constructor(
    path: string,
    fields: FieldPlan[],
    tagged: TaggedPlan[],
    absent: FieldPlan[],
    flexible: boolean,
  ) {
    this.path = path;
    this.#tagCountLabel = `${path} tagged field count`;
    this.fields = fields;
    this.tagged = tagged.sort((a, b) => a.tag - b.tag);
    this.absent = absent;
    this.flexible = flexible;
    this.minBytes = fields.reduce((sum, f) => sum + f.codec.minBytes, flexible ? 1 : 0);
  }

  defaults(): KafkaStruct {
    const value: KafkaStruct = {};
    for (const f of this.fields) value[f.key] = f.defaultValue();
    for (const f of this.tagged) value[f.key] = f.defaultValue();
    for (const f of this.absent) value[f.key] = f.defaultValue();
    return value;
  }

  read(reader: ByteReader): KafkaStruct {
    const value: KafkaStruct = {};
    for (const f of this.fields) value[f.key] = f.codec.read(reader, f.path);
    for (const f of this.absent) value[f.key] = f.defaultValue();
    if (this.flexible) {
      for (const f of this.tagged) value[f.key] = f.defaultValue();
      this.#readTagged(reader, value);
    }
    return value;
  }

  #readTagged(reader: ByteReader, value: KafkaStruct): void {
    const path = this.path;
    const count = reader.uvarint(this.#tagCountLabel);
    if (count > reader.remaining) throw fail("oversize", path, `${count} tagged fields`);
    for (let i = 0; i < count; i++) {
      const tag = reader.uvarint(`${path} tag`);
      const size = reader.uvarint(`${path} tag ${tag} size`);
      const body = reader.bytes(size, `${path} tag ${tag}`);
      const plan = this.tagged.find((f) => f.tag === tag);
      // Unknown tags are skipped: that is what makes tagged fields forward compatible.
      if (plan === undefined) continue;
      const inner = new ByteReader(body);
      value[plan.key] = plan.codec.read(inner, plan.path);
      if (inner.remaining !== 0) {
        throw fail("invalid", path, `tag ${tag}: ${inner.remaining} bytes left over`);
      }
    }
  }

  write(writer: ByteWriter, value: KafkaStruct): void {
    for (const f of this.fields) {
      const given = value[f.key];
      f.codec.write(writer, given === undefined ? f.defaultValue() : given, f.path);
    }
    if (!this.flexible) return;
    if (this.tagged.length === 0) {
      writer.uvarint(0);
      return;
    }
    const present: Array<{ tag: number; body: ByteWriter }> = [];
    for (const f of this.tagged) {
      const given = value[f.key];
      if (given === undefined || sameValue(given, f.defaultValue())) continue;
      const body = new ByteWriter();
      f.codec.write(body, given, f.path);
      present.push({ tag: f.tag, body });
    }
    writer.uvarint(present.length);
    for (const { tag, body } of present) {
      writer.uvarint(tag);
      writer.uvarint(body.length);
      writer.append(body);
    }
  }
}

function sameValue(a: KafkaValue, b: KafkaValue): boolean {
  if (a === b) return true;
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b)) {
    return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((item, i) => sameValue(item, b[i]))
    );
  }
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  const keys = Object.keys(b);
  return keys.every((key) => a[key] === undefined || sameValue(a[key], b[key]));
}

function parseDefault(field: FieldSpec, codec: Codec, nullable: boolean): () => KafkaValue {
  const text = field.default;
  if (text === undefined) return codec.zero;
  if (text === "null") {
    if (!nullable && !field.type.startsWith("[]") && field.type !== "records") return codec.zero;
    return () => null;
  }
  const type = field.type;
  if (type === "int64") {
    const value = BigInt(text);
    return () => value;
  }
  if (type === "bool") {
    const value = text === true || text === "true";
    return () => value;
  }
  if (type === "string") {
    const value = String(text);
    return () => value;
  }
  if (type in PRIMITIVES) {
    const value = Number(text);
    return () => value;
  }
  return codec.zero;
}

interface Scope {
  /** The struct's own path: the message's name, then field keys. */
  path: string;
  version: number;
  /** Whether the message is in a flexible version at all. */
  flexible: boolean;
}

function compileStruct(fields: FieldSpec[], scope: Scope): CompiledStruct {
  const regular: FieldPlan[] = [];
  const tagged: TaggedPlan[] = [];
  const absent: FieldPlan[] = [];
  for (const field of fields) {
    const nullable = inRange(parseVersions(field.nullableVersions), scope.version);
    const fieldFlexible =
      field.flexibleVersions === undefined
        ? scope.flexible
        : inRange(parseVersions(field.flexibleVersions), scope.version);
    const key = fieldKey(field.name);
    const path = `${scope.path}.${key}`;
    const codec = compileType(field, { ...scope, path }, fieldFlexible, nullable);
    const present = inRange(parseVersions(field.versions), scope.version);
    // A field absent at this version holds its default as Kafka's own classes do: a "null"
    // default stays null (JoinGroup v0-4 has no group instance id: null, not "").
    const nullDefaultAllowed = nullable || (!present && field.nullableVersions !== undefined);
    const plan: FieldPlan = {
      key,
      path,
      codec,
      defaultValue: parseDefault(field, codec, nullDefaultAllowed),
    };
    if (!present) absent.push(plan);
    else if (
      scope.flexible &&
      field.tag !== undefined &&
      inRange(parseVersions(field.taggedVersions), scope.version)
    ) {
      tagged.push({ ...plan, tag: field.tag });
    } else regular.push(plan);
  }
  return new CompiledStruct(scope.path, regular, tagged, absent, scope.flexible);
}

function compileType(field: FieldSpec, scope: Scope, compact: boolean, nullable: boolean): Codec {
  const type = field.type;
  const primitive = PRIMITIVES[type];
  if (primitive !== undefined) return primitive;
  if (type === "string") return stringCodec(compact, nullable);
  if (type === "bytes") return bytesCodec(compact, nullable, false);
  if (type === "records") return bytesCodec(compact, nullable, true);
  if (type.startsWith("[]")) {
    const elementType = type.slice(2);
    const element = compileType(
      { ...field, type: elementType, nullableVersions: undefined },
      scope,
      compact,
      false,
    );
    return arrayCodec(element, compact, nullable);
  }
  if (field.fields !== undefined) {
    return structFieldCodec(compileStruct(field.fields, scope), nullable);
  }
  throw new KafkaCodecError("invalid", `field ${field.name}: unknown type ${type}`);
}

/** The schema compiled for one version; `read` throws KafkaCodecError on malformed bytes. */
export function compileMessage(spec: MessageSpec, version: number): StructCodec {
  const valid: VersionRange = parseVersions(spec.validVersions);
  if (!inRange(valid, version)) {
    throw new KafkaCodecError("invalid", `${spec.name} has no version ${version}`);
  }
  const flexible = inRange(parseVersions(spec.flexibleVersions), version);
  const struct = compileStruct(spec.fields, { path: spec.name, version, flexible });
  return {
    read: (reader) => struct.read(reader),
    write: (writer, value) => struct.write(writer, value),
  };
}
