/**
 * The official Kafka message schemas (schemas/*.json, copied from Apache Kafka's
 * clients/src/main/resources/common/message) as typed data. Kafka generates its Java codecs from
 * these files; we interpret them instead (message-codec.ts), so adding an API version is a matter
 * of copying the newer schema, not of hand-writing byte layouts.
 */
import { readdirSync, readFileSync } from "node:fs";
import { KafkaCodecError } from "./codec-error.ts";

export interface FieldSpec {
  name: string;
  type: string;
  versions: string;
  nullableVersions?: string;
  taggedVersions?: string;
  tag?: number;
  flexibleVersions?: string;
  default?: string | number | boolean;
  ignorable?: boolean;
  fields?: FieldSpec[];
}

export interface MessageSpec {
  name: string;
  type: "request" | "response" | "header";
  apiKey?: number;
  validVersions: string;
  flexibleVersions: string;
  fields: FieldSpec[];
}

/** An inclusive version range; `none` is the empty range (lowest > highest). */
export interface VersionRange {
  readonly lowest: number;
  readonly highest: number;
}

const NO_VERSIONS: VersionRange = { lowest: 0, highest: -1 };
const OPEN_ENDED = 0x7fff;

/** Each notation parsed once: the codecs ask per request (header versions, body range). */
const parsedVersions = new Map<string, VersionRange>();

/** Parses Kafka's version notation: "none", "3", "3+", "1-5". */
export function parseVersions(text: string | undefined): VersionRange {
  if (text === undefined || text === "none") return NO_VERSIONS;
  let range = parsedVersions.get(text);
  if (range === undefined) {
    range = parseVersionText(text);
    parsedVersions.set(text, range);
  }
  return range;
}

function parseVersionText(text: string): VersionRange {
  const open = /^(\d+)\+$/.exec(text);
  if (open !== null) return { lowest: Number(open[1]), highest: OPEN_ENDED };
  const range = /^(\d+)-(\d+)$/.exec(text);
  if (range !== null) return { lowest: Number(range[1]), highest: Number(range[2]) };
  if (/^\d+$/.test(text)) return { lowest: Number(text), highest: Number(text) };
  throw new Error(`bad version range "${text}" in a Kafka message schema`);
}

export function inRange(range: VersionRange, version: number): boolean {
  return version >= range.lowest && version <= range.highest;
}

/**
 * The schema files are JSON with `//` line comments (Apache license header, version notes).
 * Comments are removed outside string literals only, since "about" texts may contain "//".
 */
export function stripJsonComments(text: string): string {
  let out = "";
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === "\\") out += text[++i] ?? "";
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
      out += "\n";
    } else {
      out += c;
    }
  }
  return out;
}

export function parseMessageSpec(text: string, source: string): MessageSpec {
  let value: unknown;
  try {
    value = JSON.parse(stripJsonComments(text));
  } catch (err) {
    throw new KafkaCodecError("invalid", `schema ${source} is not valid JSON: ${String(err)}`);
  }
  const spec = value as MessageSpec;
  if (typeof spec.name !== "string" || !Array.isArray(spec.fields)) {
    throw new KafkaCodecError("invalid", `schema ${source} has no name or fields`);
  }
  spec.flexibleVersions ??= "none";
  return spec;
}

export const SCHEMA_DIRECTORY = new URL("./schemas/", import.meta.url);

/** Reads every schema in the directory, by message name ("ProduceRequest", "RequestHeader"). */
export function loadMessageSpecs(directory: URL = SCHEMA_DIRECTORY): Map<string, MessageSpec> {
  const specs = new Map<string, MessageSpec>();
  for (const file of readdirSync(directory).sort()) {
    if (!file.endsWith(".json") || file === "biome.json") continue;
    const spec = parseMessageSpec(readFileSync(new URL(file, directory), "utf8"), file);
    specs.set(spec.name, spec);
  }
  return specs;
}

/** "TopicData" -> "topicData", as Kafka's generator names Java accessors. */
export function fieldKey(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}
