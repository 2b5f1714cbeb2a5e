/**
 * What the comparison reads about a broker from outside it, through /proc (Linux; null
 * elsewhere): CPU time, resident memory and open files of one process, and the CPU time of the
 * whole machine. No broker is asked anything, so all three are measured the same way.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { assert } from "../../src/errors.ts";

const CLOCK_TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system, all threads) the process has used, or null if it is gone. */
export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat(5); fields[0] here is field 3.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** CPU seconds every process on the machine has used (all non-idle states, all cores). */
export function machineCpuSeconds(): number | null {
  try {
    const fields = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/);
    assert(fields[0] === "cpu", "/proc/stat starts with the all-cores line");
    // cpu user nice system idle iowait irq softirq steal ...
    const busy = [1, 2, 3, 6, 7, 8].reduce((sum, i) => sum + Number(fields[i] ?? 0), 0);
    return busy / CLOCK_TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** A `kB` line of /proc/<pid>/status (VmRSS, VmHWM, ...) in bytes, or null. */
function statusBytes(pid: number, field: string): number | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(text);
    return match === null ? null : Number(match[1]) * 1024;
  } catch {
    return null;
  }
}

export const residentBytes = (pid: number): number | null => statusBytes(pid, "VmRSS");

/** Open file descriptors of the process (sockets included), or null. */
export function openFileCount(pid: number): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/** The soft limit on open files of a process ("Max open files" in /proc/<pid>/limits). */
export function openFileLimit(pid: number | "self"): number | null {
  try {
    const text = readFileSync(`/proc/${pid}/limits`, "utf8");
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(text);
    if (match === null) return null;
    return match[1] === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(match[1]);
  } catch {
    return null;
  }
}

/** The broker's and the machine's CPU seconds at one moment. */
export interface CpuReading {
  brokerCpuSeconds: number | null;
  machineCpuSeconds: number | null;
  timeMs: number;
}

export function readCpu(pid: number): CpuReading {
  return {
    brokerCpuSeconds: processCpuSeconds(pid),
    machineCpuSeconds: machineCpuSeconds(),
    timeMs: performance.now(),
  };
}

export interface CpuUse {
  /** % of one core used by the broker. */
  brokerPercent: number | null;
  /** % of one core used by everything else: the load generator, the kernel, other jobs. */
  restPercent: number | null;
  /** The window these are over. */
  seconds: number;
}

export function cpuBetween(first: CpuReading, last: CpuReading): CpuUse {
  const seconds = (last.timeMs - first.timeMs) / 1000;
  assert(seconds > 0, "CPU readings must be in order");
  const percent = (a: number | null, b: number | null): number | null =>
    a === null || b === null ? null : Math.round(((b - a) * 100) / seconds);
  const broker = percent(first.brokerCpuSeconds, last.brokerCpuSeconds);
  const machine = percent(first.machineCpuSeconds, last.machineCpuSeconds);
  const rest = broker === null || machine === null ? null : Math.max(0, machine - broker);
  return { brokerPercent: broker, restPercent: rest, seconds: Math.round(seconds * 10) / 10 };
}

const CPU_SAMPLE_INTERVAL_MS = 250;
/** Readings kept: ten minutes' worth, far more than one run. */
const CPU_READINGS_MAX = 2_400;

/**
 * Reads the CPU every 250 ms while a generator run goes on. The run includes its connect and
 * close phases, so busiest() reports the window of `windowSeconds` in which the broker used
 * the most CPU: the publishing phase.
 */
export function sampleCpu(pid: number): { end(): void; busiest(windowSeconds: number): CpuUse } {
  const readings: CpuReading[] = [readCpu(pid)];
  const timer = setInterval(() => {
    if (readings.length < CPU_READINGS_MAX) readings.push(readCpu(pid));
  }, CPU_SAMPLE_INTERVAL_MS);
  return {
    end(): void {
      clearInterval(timer);
      readings.push(readCpu(pid));
    },
    busiest(windowSeconds: number): CpuUse {
      assert(readings.length >= 2, "end() comes before busiest()");
      const span = Math.max(1, Math.round((windowSeconds * 1000) / CPU_SAMPLE_INTERVAL_MS));
      let best: CpuUse | null = null;
      for (let i = 0; i + span < readings.length; i++) {
        const use = cpuBetween(readings[i], readings[i + span]);
        if (best === null || (use.brokerPercent ?? 0) > (best.brokerPercent ?? 0)) best = use;
      }
      return best ?? cpuBetween(readings[0], readings[readings.length - 1]);
    },
  };
}
