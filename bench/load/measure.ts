/**
 * Measurements bench/run.ts takes from outside the processes it runs: CPU time and peak memory
 * from /proc (Linux; null elsewhere), and self time per function from a V8 .cpuprofile.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const CLOCK_TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system, all threads) a process has used. */
export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15; fields[0] here is field 3.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** CPU seconds every process on the machine has used (all non-idle states). */
export function machineCpuSeconds(): number | null {
  try {
    const fields = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/);
    // cpu user nice system idle iowait irq softirq steal ...
    const busy = [1, 2, 3, 6, 7, 8].reduce((sum, i) => sum + Number(fields[i] ?? 0), 0);
    return busy / CLOCK_TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

export function peakRssMiB(pid: number): number | null {
  try {
    const kib = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return kib === null ? null : Math.round(Number(kib[1]) / 1024);
  } catch {
    return null;
  }
}

interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }>;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  /** "function file:line", file relative to `root`. */
  where: string;
  /** Share of the non-idle samples, in percent. */
  percent: number;
}

/** The newest .cpuprofile in `dir`, or null. */
export function newestProfile(dir: string): string | null {
  const file = readdirSync(dir)
    .filter((f) => f.endsWith(".cpuprofile"))
    .sort()
    .at(-1);
  return file === undefined ? null : join(dir, file);
}

/** Functions by self time (the whole process life, start-up included), most first. */
export function topSelfTime(file: string, root: string, count: number): SelfTime[] {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const frameOf = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const selfMicros = new Map<string, number>();
  let busyMicros = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const frame = frameOf.get(profile.samples[i]);
    // timeDeltas[i + 1] is the time from sample i to the next one: sample i's share.
    const delta = profile.timeDeltas[i + 1] ?? 0;
    if (frame === undefined || frame.functionName === "(idle)") continue;
    const path = frame.url.replace(`file://${root}`, "");
    const where = `${frame.functionName || "(anonymous)"} ${path}:${frame.lineNumber + 1}`;
    selfMicros.set(where, (selfMicros.get(where) ?? 0) + delta);
    busyMicros += delta;
  }
  return [...selfMicros]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([where, micros]) => ({ where, percent: (micros * 100) / busyMicros }));
}
