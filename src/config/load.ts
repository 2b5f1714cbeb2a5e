/**
 * Loads the configuration: defaults, then the TOML file, then overrides (command-line flags),
 * all validated by one schema so a bad value reads the same wherever it came from.
 * Every problem is collected into one error, so an operator fixes a file in one pass.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse, TomlError } from "smol-toml";
import type { z } from "zod";
import { ErrorCode, RobustMQError } from "../errors.ts";
import { type Config, ConfigSchema, keyDocOf, keySchemaAt, keysAt } from "./schema.ts";

type Table = Record<string, unknown>;

/**
 * Overrides name real keys (so a typo is a compile error) but carry unknown values: they come
 * from the command line and are validated by the schema like the file is.
 */
export type DeepPartialOverrides = {
  [K in keyof Config]?: Config[K] extends readonly unknown[]
    ? unknown
    : Config[K] extends Table
      ? { [J in keyof Config[K]]?: unknown }
      : unknown;
};

export interface LoadConfigOptions {
  /** Path of a TOML file; without it only defaults and overrides apply. */
  file?: string;
  /** Applied on top of the file; `undefined` values are skipped. */
  overrides?: DeepPartialOverrides;
  /** Where an override came from, by dotted key ("network.tcp_port" -> "--mqtt-port"). */
  overrideLabels?: Readonly<Record<string, string>>;
}

/** Default configuration: what `robustmq start` runs with when given nothing. */
export function defaultConfig(): Config {
  return ConfigSchema.parse({});
}

/**
 * Throws RobustMQError: RMQ_ERR_CONFIG_FILE when the file cannot be read or parsed,
 * RMQ_ERR_CONFIG_INVALID listing every invalid or unknown key.
 */
export function loadConfig(opts: LoadConfigOptions = {}): Config {
  const fromFile = opts.file === undefined ? {} : readConfigFile(opts.file);
  const overrides = (opts.overrides ?? {}) as Table;
  const merged = mergeTables(fromFile, overrides);
  const result = ConfigSchema.safeParse(merged, { reportInput: true });
  if (result.success) return result.data;
  const origin: Origin = { file: opts.file, overrides, labels: opts.overrideLabels ?? {} };
  const problems = describeIssues(result.error.issues, merged, origin);
  const where = opts.file === undefined ? "" : ` (config file "${opts.file}")`;
  const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
  throw new RobustMQError(
    ErrorCode.CONFIG_INVALID,
    `invalid configuration${where}, ${count}:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
  );
}

function readConfigFile(file: string): Table {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new RobustMQError(
      ErrorCode.CONFIG_FILE,
      `cannot read config file "${file}": ${describeFsError(err, file)}`,
    );
  }
  try {
    return parse(text);
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    // smol-toml's message is "Invalid TOML document: <what>\n\n<codeblock>"; keep only <what>.
    const what = err.message.split("\n")[0].replace(/^Invalid TOML document:\s*/, "");
    throw new RobustMQError(
      ErrorCode.CONFIG_FILE,
      `cannot parse config file "${file}" at line ${err.line}, column ${err.column}: ${what}\n\n` +
        err.codeblock,
    );
  }
}

function describeFsError(err: unknown, file: string): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return `no such file (looked for ${resolve(file)})`;
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EISDIR") return "it is a directory, not a file";
  return err instanceof Error ? err.message : String(err);
}

function isTable(value: unknown): value is Table {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Overrides win key by key inside sections; arrays and scalars are replaced whole. */
function mergeTables(base: Table, overrides: Table): Table {
  const out: Table = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    const current = out[key];
    if (isTable(value)) out[key] = mergeTables(isTable(current) ? current : {}, value);
    else out[key] = value;
  }
  return out;
}

interface Origin {
  file: string | undefined;
  overrides: Table;
  labels: Readonly<Record<string, string>>;
}

/** One line per problem: one per invalid key (its first issue), one per unknown key. */
function describeIssues(issues: readonly z.core.$ZodIssue[], input: Table, origin: Origin) {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      const tablePath = issue.path.map(String);
      for (const key of issue.keys) problems.push(describeUnknownKey(tablePath, key));
      continue;
    }
    const keyPath = keyPathOf(issue.path);
    const dotted = keyPath.join(".");
    if (seen.has(dotted)) continue;
    seen.add(dotted);
    problems.push(describeBadValue(issue, keyPath, input, origin));
  }
  return problems;
}

/** Issues inside an array point at an element; report them against the key that holds it. */
function keyPathOf(path: readonly PropertyKey[]): string[] {
  const keyPath: string[] = [];
  for (const segment of path) {
    if (typeof segment !== "string") break;
    keyPath.push(segment);
  }
  return keyPath;
}

function describeBadValue(
  issue: z.core.$ZodIssue,
  keyPath: string[],
  input: Table,
  origin: Origin,
): string {
  const dotted = keyPath.join(".");
  const value = valueAt(input, keyPath);
  const schema = keySchemaAt(keyPath);
  const allowed = schema === undefined ? undefined : keyDocOf(schema)?.allowed;
  // Every key registers a KeyDoc (a test checks); zod's own text is a last resort.
  const rule = allowed === undefined ? issue.message : `must be ${allowed}`;
  const from = describeOrigin(keyPath, origin);
  const shown = value === undefined ? "" : ` = ${renderValue(value)}`;
  return `${dotted}${shown}${from}: ${rule}${hintFor(issue, value)}`;
}

function describeOrigin(keyPath: string[], origin: Origin): string {
  if (valueAt(origin.overrides, keyPath) === undefined) return "";
  const label = origin.labels[keyPath.join(".")];
  return label === undefined ? " (from overrides)" : ` (from ${label})`;
}

function valueAt(table: Table, path: readonly string[]): unknown {
  let current: unknown = table;
  for (const segment of path) {
    if (!isTable(current)) return undefined;
    current = current[segment];
  }
  return current;
}

const RENDERED_STRING_CHARS_MAX = 60;

/** Shows a value as it would look in TOML, so the operator recognises what they wrote. */
export function renderValue(value: unknown): string {
  if (typeof value === "string") {
    const cut = value.length > RENDERED_STRING_CHARS_MAX;
    return JSON.stringify(cut ? `${value.slice(0, RENDERED_STRING_CHARS_MAX)}...` : value);
  }
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return `[${value.map(renderValue).join(", ")}]`;
  if (isTable(value)) return "a table";
  return String(value);
}

/** Extra help for the two commonest slips: a near-miss choice, and a quoted number or flag. */
function hintFor(issue: z.core.$ZodIssue, value: unknown): string {
  if (issue.code === "invalid_value" && typeof issue.input === "string") {
    const strings = issue.values.filter((v): v is string => typeof v === "string");
    const near = closest(issue.input, strings);
    if (near !== undefined) return `; did you mean "${near}"?`;
  }
  const looksUnquotable = typeof value === "string" && /^(-?\d+(\.\d+)?|true|false)$/.test(value);
  return looksUnquotable && wantsNumberOrBoolean(issue) ? "; write it without quotes" : "";
}

function wantsNumberOrBoolean(issue: z.core.$ZodIssue): boolean {
  if (issue.code === "invalid_type") return ["number", "int", "boolean"].includes(issue.expected);
  if (issue.code === "invalid_value") return issue.values.some((v) => typeof v !== "string");
  return false;
}

function describeUnknownKey(tablePath: string[], key: string): string {
  const where = tablePath.length === 0 ? "at the top level" : `in [${tablePath.join(".")}]`;
  const base = `unknown key "${key}" ${where}`;
  const misplaced = misplacedHint(tablePath, key);
  if (misplaced !== "") return base + misplaced;
  const near = closest(key, keysAt(tablePath));
  return near === undefined ? base : `${base}; did you mean "${near}"?`;
}

/**
 * A known key in the wrong table is usually a TOML slip: keys written after a [section] header
 * belong to that section, so a top-level key must come before the first header.
 */
function misplacedHint(tablePath: string[], key: string): string {
  if (tablePath.length > 0 && keysAt([]).includes(key)) {
    return `; "${key}" is a top-level key: put it before the first [section] header`;
  }
  for (const section of keysAt([])) {
    if (section !== tablePath[0] && keysAt([section]).includes(key)) {
      return `; "${key}" belongs in [${section}]`;
    }
  }
  return "";
}

/**
 * The candidate nearest to `word` by edit distance, if near enough to be a likely typo.
 * A candidate that `word` merely extends ("warning" for "warn") counts as one edit away.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const distanceMax = word.length <= 4 ? 1 : word.length <= 8 ? 2 : 3;
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = distanceMax + 1;
  for (const candidate of candidates) {
    const other = candidate.toLowerCase();
    const isPrefix = other.length >= 3 && lower.startsWith(other);
    const distance = isPrefix ? 1 : editDistance(lower, other);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Optimal string alignment distance: Levenshtein plus adjacent transposition ("prot"/"port"). */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) rows.push([i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) rows[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, rows[i - 2][j - 2] + 1);
      }
      rows[i][j] = d;
    }
  }
  return rows[a.length][b.length];
}
