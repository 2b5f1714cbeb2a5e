/**
 * Small analyses of V8 profiles taken during the comparison (see bench/README.md):
 *
 *   node bench/compare/profile.ts cpu FILE.cpuprofile [--top 20]
 *       functions by self time, as a share of the non-idle samples
 *   node bench/compare/profile.ts heap BEFORE.heapsnapshot AFTER.heapsnapshot [--per N] [--top 20]
 *       what the heap gained between two snapshots, by constructor, optionally per connection
 *
 * run.ts calls the same functions for `--cpu-prof DIR` and `--heap-snapshot DIR`.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { assert } from "../../src/errors.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const TOP_COUNT_DEFAULT = 20;

interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }>;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  /** "function file:line", the file relative to the repository. */
  where: string;
  /** Share of the non-idle samples, in percent. */
  percent: number;
}

/** The newest file ending in `suffix` in `dir`, or null. */
export function newestFile(dir: string, suffix: string): string | null {
  const file = readdirSync(dir)
    .filter((f) => f.endsWith(suffix))
    .sort()
    .at(-1);
  return file === undefined ? null : join(dir, file);
}

/** Functions by self time over the whole process life (start-up included), most first. */
export function topSelfTime(file: string, count: number): SelfTime[] {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  assert(profile.samples.length === profile.timeDeltas.length, "one time delta per sample");
  const frameOf = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const selfMicros = new Map<string, number>();
  let busyMicros = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const frame = frameOf.get(profile.samples[i]);
    // timeDeltas[i + 1] is the time from sample i to the next one: sample i's share.
    const delta = profile.timeDeltas[i + 1] ?? 0;
    if (frame === undefined || frame.functionName === "(idle)") continue;
    const path = frame.url.replace(`file://${ROOT}`, "");
    const where = `${frame.functionName || "(anonymous)"} ${path}:${frame.lineNumber + 1}`;
    selfMicros.set(where, (selfMicros.get(where) ?? 0) + delta);
    busyMicros += delta;
  }
  assert(busyMicros >= 0, "self time is never negative");
  return [...selfMicros]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([where, micros]) => ({ where, percent: (micros * 100) / Math.max(1, busyMicros) }));
}

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface HeapGroup {
  /** The constructor name for objects, `(type)` for strings, arrays, code, closures... */
  name: string;
  count: number;
  bytes: number;
}

/** Self sizes summed by constructor (objects) or by node type (everything else). */
export function heapByConstructor(file: string): Map<string, HeapGroup> {
  const heap = JSON.parse(readFileSync(file, "utf8")) as HeapSnapshot;
  const fields = heap.snapshot.meta.node_fields;
  const types = heap.snapshot.meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ["type", "name", "self_size"].map((f) => fields.indexOf(f));
  assert(typeAt >= 0 && nameAt >= 0 && sizeAt >= 0, "a V8 heap snapshot's node fields");
  assert(heap.nodes.length % width === 0, "whole nodes only");
  const groups = new Map<string, HeapGroup>();
  for (let i = 0; i < heap.nodes.length; i += width) {
    const type = types[heap.nodes[i + typeAt]];
    const named = type === "object" || type === "native" || type === "closure";
    const name = named ? `${heap.strings[heap.nodes[i + nameAt]]} (${type})` : `(${type})`;
    const group = groups.get(name) ?? { name, count: 0, bytes: 0 };
    group.count++;
    group.bytes += heap.nodes[i + sizeAt];
    groups.set(name, group);
  }
  return groups;
}

/** What grew between two snapshots, largest growth first. */
export function heapGrowth(before: string, after: string, count: number): HeapGroup[] {
  const first = heapByConstructor(before);
  const growth: HeapGroup[] = [];
  for (const [name, group] of heapByConstructor(after)) {
    const old = first.get(name) ?? { name, count: 0, bytes: 0 };
    growth.push({ name, count: group.count - old.count, bytes: group.bytes - old.bytes });
  }
  return growth.sort((a, b) => b.bytes - a.bytes).slice(0, count);
}

export function formatSelfTime(rows: readonly SelfTime[]): string {
  return rows.map((r) => `  ${r.percent.toFixed(1).padStart(5)}%  ${r.where}`).join("\n");
}

/** One line per group; with `per` > 1 the counts and bytes are divided by it. */
export function formatHeapGrowth(rows: readonly HeapGroup[], per: number): string {
  assert(per >= 1, "divide by a positive count");
  const lines = rows.map((r) => {
    const bytes = (r.bytes / per).toFixed(per > 1 ? 1 : 0).padStart(10);
    const count = (r.count / per).toFixed(per > 1 ? 2 : 0).padStart(9);
    return `  ${bytes} B  ${count} objects  ${r.name}`;
  });
  const total = rows.reduce((sum, r) => sum + r.bytes, 0) / per;
  return [...lines, `  ${total.toFixed(1).padStart(10)} B  total of the rows above`].join("\n");
}

function flagValue(argv: string[], flag: string, fallback: number): number {
  const at = argv.indexOf(flag);
  if (at < 0) return fallback;
  const value = Number(argv[at + 1]);
  if (!(value >= 1)) throw new Error(`${flag} ${argv[at + 1]}: expected a number >= 1`);
  return value;
}

function main(argv: string[]): void {
  const [kind, ...rest] = argv;
  const files = rest.filter((a, i) => !a.startsWith("--") && !rest[i - 1]?.startsWith("--"));
  const top = flagValue(rest, "--top", TOP_COUNT_DEFAULT);
  if (kind === "cpu" && files.length === 1) {
    console.log(formatSelfTime(topSelfTime(files[0], top)));
  } else if (kind === "heap" && files.length === 2) {
    const per = flagValue(rest, "--per", 1);
    console.log(formatHeapGrowth(heapGrowth(files[0], files[1], top), per));
  } else {
    console.error("usage: profile.ts cpu FILE.cpuprofile [--top N]");
    console.error(
      "       profile.ts heap BEFORE.heapsnapshot AFTER.heapsnapshot [--per N] [--top N]",
    );
    process.exitCode = 2;
  }
}

if (import.meta.main) main(process.argv.slice(2));
