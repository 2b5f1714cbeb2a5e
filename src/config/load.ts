/**
 * Loads the configuration: defaults, then the TOML file, then overrides (command-line flags),
 * all validated by one schema so a bad value reads the same wherever it came from.
 * Every problem is collected into one error, so an operator fixes a file in one pass.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse, TomlError } from "smol-toml";
import { z } from "zod";
import { ErrorCode, RobustMQError } from "../errors.ts";
import {
  type Config,
  ConfigSchema,
  CROSS_SECTION,
  keyDocOf,
  keySchemaAt,
  keysAt,
  quoteAll,
  unwrapKeySchema,
} from "./schema.ts";

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
  const labels = opts.overrideLabels ?? {};
  // The file is checked as written too: a flag that covers a bad value in it would only hide
  // the mistake until the next start without that flag.
  const fileProblems =
    opts.file === undefined ? [] : problemsOf(fromFile, { pass: "file", overrides, labels });
  const merged = mergeTables(fromFile, overrides);
  const { result, issues } = issuesOf(merged);
  const mergedProblems = describeIssues(issues, merged, { pass: "merged", overrides, labels });
  // A mistake in the file that no flag touches is found by both passes: report it once.
  const problems = [...new Set([...fileProblems, ...mergedProblems])];
  if (result.success && problems.length === 0) return result.data;
  throw invalidConfigError(problems, opts.file);
}

function problemsOf(input: Table, origin: Origin): string[] {
  return describeIssues(issuesOf(input).issues, input, origin);
}

/** The schema's verdict on `input`, and every issue: the schema's and notTableIssues'. */
function issuesOf(input: Table) {
  const result = ConfigSchema.safeParse(input, { reportInput: true });
  const issues = [...notTableIssues(input), ...(result.success ? [] : result.error.issues)];
  return { result, issues };
}

/**
 * Values that are objects but not tables where a table is expected: a TOML date or time is a
 * JS Date, which zod's object schema takes as an empty table, so `log = 1979-05-27` would
 * leave [log] at its defaults. Reported as zod reports any other value that is not a table.
 * Recursion follows the schema, so its depth is the schema's (a section, a list, a rule).
 */
function notTableIssues(value: unknown, path: KeyPath = []): z.core.$ZodIssue[] {
  const schema = keySchemaAt(path);
  const shape = schema === undefined ? undefined : unwrapKeySchema(schema);
  if (shape instanceof z.ZodArray && Array.isArray(value)) {
    return value.flatMap((inner, index) => notTableIssues(inner, [...path, index]));
  }
  if (!(shape instanceof z.ZodObject)) return [];
  if (isTable(value)) {
    return Object.entries(value).flatMap(([key, inner]) => notTableIssues(inner, [...path, key]));
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return [];
  return [{ code: "invalid_type", expected: "object", input: value, path, message: "not a table" }];
}

/**
 * RMQ_ERR_CONFIG_INVALID listing `problems`, one a line. Also for the checks made at start
 * (certificates, schema files), so every configuration error reads the same.
 */
export function invalidConfigError(problems: readonly string[], file?: string): RobustMQError {
  const where = file === undefined ? "" : ` (config file "${file}")`;
  const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
  return new RobustMQError(
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

/** A key's place: section and key names, and list indexes (["mqtt_acl", "rules", 1, "ip"]). */
type KeyPath = (string | number)[];

interface Origin {
  /** "file": the file alone is checked; "merged": the file with the overrides on top. */
  pass: "file" | "merged";
  overrides: Table;
  labels: Readonly<Record<string, string>>;
}

/** One line per problem: one per invalid key (its first issue), one per unknown key. */
function describeIssues(issues: readonly z.core.$ZodIssue[], input: Table, origin: Origin) {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      const tablePath = reportedPath(issue.path, input);
      for (const key of issue.keys) problems.push(describeUnknownKey(tablePath, key));
      continue;
    }
    const keyPath = reportedPath(issue.path, input);
    const rendered = renderKeyPath(keyPath);
    if (seen.has(rendered)) continue;
    seen.add(rendered);
    problems.push(describeBadValue(issue, keyPath, input, origin));
  }
  return problems;
}

/**
 * Where an issue is reported. Inside a list of tables (rules) it is the element's own key, so
 * the message names the rule and its field; inside a list of plain values (roles) it is the
 * list's key, whose description says what the elements may be.
 */
function reportedPath(path: readonly PropertyKey[], input: Table): KeyPath {
  const keyPath: KeyPath = [];
  for (const segment of path) {
    if (typeof segment === "number") {
      if (!isTable(valueAt(input, [...keyPath, segment]))) break;
    } else if (typeof segment !== "string") {
      break;
    }
    keyPath.push(segment);
  }
  return keyPath;
}

/** "mqtt_acl.rules[1].ip": TOML's dotted keys, with list indexes as an operator counts from 0. */
function renderKeyPath(keyPath: readonly (string | number)[]): string {
  return keyPath
    .map((segment, i) =>
      typeof segment === "number" ? `[${segment}]` : i === 0 ? segment : `.${segment}`,
    )
    .join("");
}

function describeBadValue(
  issue: z.core.$ZodIssue,
  keyPath: KeyPath,
  input: Table,
  origin: Origin,
): string {
  const value = valueAt(input, keyPath);
  const fromFlag = origin.pass === "merged" && valueAt(origin.overrides, keyPath) !== undefined;
  const shown = value === undefined ? "" : ` = ${renderValue(value)}`;
  const from = describeOrigin(keyPath, origin);
  return `${renderKeyPath(keyPath)}${shown}${from}: ${ruleFor(issue, keyPath)}${hintFor(issue, value, fromFlag)}`;
}

/** What the key allows: its KeyDoc, or for a rule's field the shared rule schema's reason. */
function ruleFor(issue: z.core.$ZodIssue, keyPath: KeyPath): string {
  if (issue.code === "custom" && issue.params?.[CROSS_SECTION] === true) return issue.message;
  const schema = keySchemaAt(keyPath);
  const allowed = schema === undefined ? undefined : keyDocOf(schema)?.allowed;
  return allowed === undefined ? fieldRule(issue) : `must be ${allowed}`;
}

const TYPE_WORDS: Readonly<Record<string, string>> = {
  string: "a string",
  boolean: "true or false",
  number: "a number",
  int: "an integer",
  object: "a table",
  array: "a list",
};

/**
 * A rule's fields share their schemas with the admin API (src/security/acl/rule-schema.ts,
 * src/broker/mqtt/rules/rule-schema.ts), which carry no KeyDoc: their custom reasons are kept,
 * and zod's generic wording is put in the config's own terms.
 */
function fieldRule(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_value") return `must be one of ${quoteAll(issue.values)}`;
  if (issue.code === "invalid_type") {
    const expected = TYPE_WORDS[issue.expected] ?? issue.expected;
    return issue.input === undefined ? `missing: must be ${expected}` : `must be ${expected}`;
  }
  if (issue.code === "too_small" && issue.origin === "string") return "must not be empty";
  if (issue.code === "too_big" && issue.origin === "string") {
    return `must be at most ${issue.maximum} characters`;
  }
  return issue.message;
}

function describeOrigin(keyPath: KeyPath, origin: Origin): string {
  const overridden = valueAt(origin.overrides, keyPath) !== undefined;
  if (!overridden) return "";
  // The file pass only reaches here for a key a flag also sets: the flag is not the culprit.
  if (origin.pass === "file") return " (in the config file)";
  const label = origin.labels[renderKeyPath(keyPath)];
  return label === undefined ? " (from overrides)" : ` (from ${label})`;
}

function valueAt(table: Table, path: readonly (string | number)[]): unknown {
  let current: unknown = table;
  for (const segment of path) {
    if (typeof segment === "number") {
      if (!Array.isArray(current)) return undefined;
      current = current[segment];
    } else {
      if (!isTable(current)) return undefined;
      current = current[segment];
    }
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

/**
 * Extra help for the two commonest slips: a near-miss choice, and a quoted number or flag.
 * A flag's value has no quotes to drop, so that hint is for the file only.
 */
function hintFor(issue: z.core.$ZodIssue, value: unknown, fromFlag: boolean): string {
  if (issue.code === "invalid_value" && typeof issue.input === "string") {
    const strings = issue.values.filter((v): v is string => typeof v === "string");
    const near = closest(issue.input, strings);
    if (near !== undefined) return `; did you mean "${near}"?`;
  }
  if (fromFlag) return "";
  const looksUnquotable = typeof value === "string" && /^(-?\d+(\.\d+)?|true|false)$/.test(value);
  return looksUnquotable && wantsNumberOrBoolean(issue) ? "; write it without quotes" : "";
}

function wantsNumberOrBoolean(issue: z.core.$ZodIssue): boolean {
  if (issue.code === "invalid_type") return ["number", "int", "boolean"].includes(issue.expected);
  if (issue.code === "invalid_value") return issue.values.some((v) => typeof v !== "string");
  return false;
}

function describeUnknownKey(tablePath: KeyPath, key: string): string {
  const base = `unknown key "${key}" ${tableName(tablePath)}`;
  const sectionPath = tablePath.every((s) => typeof s === "string") ? tablePath : undefined;
  const misplaced = sectionPath === undefined ? "" : misplacedHint(sectionPath, key);
  if (misplaced !== "") return base + misplaced;
  const near = closest(key, keysAt(tablePath));
  return near === undefined ? base : `${base}; did you mean "${near}"?`;
}

function tableName(tablePath: KeyPath): string {
  if (tablePath.length === 0) return "at the top level";
  if (tablePath.some((s) => typeof s === "number")) return `in ${renderKeyPath(tablePath)}`;
  return `in [${tablePath.join(".")}]`;
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
