/**
 * Side-by-side broker benchmark. Each workload runs against RobustMQ (the real process,
 * `robustmq start`) and then Aedes (bench/peers/aedes-server.ts), each time on a fresh broker
 * process on a free loopback port. The load comes from another process (bench/load/) writing
 * pre-encoded packets on raw sockets. The figure is PUBLISH packets received per second by the
 * subscriber over the measured window.
 *
 *   node bench/run.ts [--seconds 5] [--warmup-seconds 1] [--brokers robustmq,aedes]
 *                     [--workloads qos0-1to1,...] [--qos1-window N] [--cpu-prof DIR] [--no-write]
 *
 * A full run (all workloads, both brokers, default windows) writes bench/results/latest.json
 * and latest.md. --cpu-prof DIR runs RobustMQ under `node --cpu-prof` (one profile per
 * workload in DIR/<workload>/) and prints the functions with the most self time.
 */
import { type ChildProcess, fork, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  machineCpuSeconds,
  newestProfile,
  peakRssMiB,
  processCpuSeconds,
  topSelfTime,
} from "./load/measure.ts";
import type { Command, LoadSpec, Report, Snapshot } from "./load/wire.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const HOST = "127.0.0.1";
const BROKER_START_TIMEOUT_MS = 15_000;
const BROKER_STOP_TIMEOUT_MS = 10_000;
const LOAD_REPLY_TIMEOUT_MS = 15_000;
const BROKER_STDERR_LINES_KEPT = 20;
const PROFILE_TOP_COUNT = 20;
/** QoS 0: messages in flight end to end (about 800 KiB), over all publishers. */
const QOS0_IN_FLIGHT_MAX = 10_000;
/** Above this, other processes were busy enough to skew the figures. */
const OTHER_CPU_PERCENT_WARN = 20;

interface Workload {
  name: string;
  title: string;
  qos: 0 | 1;
  publisherCount: number;
  /** QoS 1: unacknowledged PUBLISH packets per publisher (1000 in flight in both). */
  windowCount: number;
}

const WORKLOADS: Workload[] = [
  { name: "qos0-1to1", title: "QoS 0, 1 pub -> 1 sub", qos: 0, publisherCount: 1, windowCount: 0 },
  {
    name: "qos1-1to1",
    title: "QoS 1, 1 pub -> 1 sub",
    qos: 1,
    publisherCount: 1,
    windowCount: 1000,
  },
  {
    name: "qos0-100to1",
    title: "QoS 0, 100 pubs -> 1 sub",
    qos: 0,
    publisherCount: 100,
    windowCount: 0,
  },
  {
    name: "qos1-100to1",
    title: "QoS 1, 100 pubs -> 1 sub",
    qos: 1,
    publisherCount: 100,
    windowCount: 10,
  },
];

const BROKERS = ["robustmq", "aedes"] as const;
type BrokerName = (typeof BROKERS)[number];

interface Options {
  seconds: number;
  warmupSeconds: number;
  brokers: BrokerName[];
  workloads: Workload[];
  qos1WindowCount: number | null;
  cpuProfileDir: string | null;
  write: boolean;
}

interface Result {
  receivedPerSecond: number;
  /** PUBLISH packets the publishers wrote. */
  sentPerSecond: number;
  /** QoS 1: PUBACKs the publishers received. */
  ackedPerSecond: number;
  brokerCpuPercent: number | null;
  /** The load process (publishers and subscriber, one thread). */
  loadCpuPercent: number;
  /** Everything else on the machine (other users' processes, kernel threads): noise. */
  otherCpuPercent: number | null;
  brokerPeakRssMiB: number | null;
  receivedCount: number;
  measuredSeconds: number;
  error?: string;
}

// ---- command line ---------------------------------------------------------------------

function parseOptions(argv: string[]): Options {
  const options: Options = {
    seconds: 5,
    warmupSeconds: 1,
    brokers: [...BROKERS],
    workloads: WORKLOADS,
    qos1WindowCount: null,
    cpuProfileDir: null,
    write: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1] ?? "";
    if (flag === "--no-write") {
      options.write = false;
      continue;
    }
    i++;
    if (flag === "--seconds") options.seconds = bounded(flag, value, 600);
    else if (flag === "--warmup-seconds") options.warmupSeconds = bounded(flag, value, 600);
    else if (flag === "--brokers") options.brokers = pick(flag, value, [...BROKERS], (b) => b);
    else if (flag === "--workloads")
      options.workloads = pick(flag, value, WORKLOADS, (w) => w.name);
    else if (flag === "--qos1-window")
      options.qos1WindowCount = Math.round(bounded(flag, value, 65_000));
    else if (flag === "--cpu-prof") options.cpuProfileDir = value;
    else throw new Error(`unknown option ${flag}`);
  }
  if (options.qos1WindowCount !== null) {
    const windowCount = options.qos1WindowCount;
    options.workloads = options.workloads.map((w) => (w.qos === 1 ? { ...w, windowCount } : w));
  }
  return options;
}

function bounded(flag: string, value: string, max: number): number {
  const n = Number(value);
  if (!(n > 0 && n <= max)) throw new Error(`${flag} ${value}: expected a number in (0, ${max}]`);
  return n;
}

function pick<T>(flag: string, value: string, all: T[], nameOf: (t: T) => string): T[] {
  const names = value.split(",").filter((n) => n !== "");
  const known = all.map(nameOf);
  for (const n of names) {
    if (!known.includes(n)) throw new Error(`${flag}: ${n} is not one of ${known.join(", ")}`);
  }
  return all.filter((t) => names.includes(nameOf(t)));
}

// ---- broker processes -----------------------------------------------------------------

interface BrokerProcess {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

function brokerCommand(name: BrokerName, workDir: string, profileDir: string | null): string[] {
  if (name === "aedes") return [join(ROOT, "bench/peers/aedes-server.ts")];
  const config = join(workDir, "robustmq.toml");
  writeFileSync(config, `[network]\nbind_address = "${HOST}"\n`);
  const profile = profileDir === null ? [] : ["--cpu-prof", "--cpu-prof-dir", profileDir];
  const main = join(ROOT, "src/cli/main.ts");
  const dataDir = join(workDir, "data");
  return [...profile, main, "start", "--mqtt-port", "0", "--data-dir", dataDir, "--config", config];
}

/** Calls `onLine` for each complete line of a text stream. */
function eachLine(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  let pending = "";
  stream?.setEncoding("utf8");
  stream?.on("data", (chunk: string) => {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) onLine(line);
  });
}

/** Starts a broker and resolves once its `"listener":"mqtt"` log line gives the port. */
async function startBroker(name: BrokerName, profileDir: string | null): Promise<BrokerProcess> {
  const workDir = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  const child = spawn(process.execPath, brokerCommand(name, workDir, profileDir), {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let exitCode: number | null = null;
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (code) => {
      exitCode = code;
      resolve();
    }),
  );
  // Both pipes are read for the whole run: a full pipe would stall the broker.
  const stderrTail: string[] = [];
  eachLine(child.stderr, (line) => {
    stderrTail.push(line);
    if (stderrTail.length > BROKER_STDERR_LINES_KEPT) stderrTail.shift();
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not start`)),
      BROKER_START_TIMEOUT_MS,
    );
    eachLine(child.stdout, (line) => {
      const match = /"listener":"mqtt".*"address":"[^"]*:(\d+)"/.exec(line);
      if (match !== null) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      } else if (/"level":"(warn|error|fatal)"/.test(line)) {
        process.stderr.write(`[${name}] ${line}\n`);
      }
    });
    exited.then(() => reject(new Error(`${name} exited (${exitCode}): ${stderrTail.join("\n")}`)));
  });
  return {
    port,
    pid: child.pid as number,
    async stop() {
      const running = exitCode === null;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), BROKER_STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
      rmSync(workDir, { recursive: true, force: true });
      if (!running || exitCode !== 0) {
        const last = stderrTail
          .filter((l) => l.trim() !== "")
          .slice(-3)
          .join(" | ");
        const when = running ? "when stopped" : "before it was stopped";
        process.stderr.write(`\n[${name}] exited with ${exitCode} ${when}: ${last}\n`);
      }
    },
  };
}

// ---- the load process -----------------------------------------------------------------

class LoadProcess {
  private readonly child: ChildProcess;
  private readonly reports: Report[] = [];
  private wake: (() => void) | null = null;
  private exitCode: number | null = null;

  constructor(spec: LoadSpec) {
    this.child = fork(join(ROOT, "bench/load/generator.ts"), [JSON.stringify(spec)], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.child.on("message", (message: Report) => {
      this.reports.push(message);
      this.wake?.();
    });
    this.child.on("exit", (code) => {
      this.exitCode = code ?? -1;
      this.wake?.();
    });
  }

  send(command: Command): void {
    if (this.child.connected) this.child.send(command);
  }

  /** Resolves with the next report of this kind; rejects on an error report, exit or timeout. */
  async next<E extends Report["event"]>(event: E): Promise<Extract<Report, { event: E }>> {
    const deadline = Date.now() + LOAD_REPLY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const report = this.reports.shift();
      if (report?.event === "error") throw new Error(`load: ${report.message}`);
      if (report?.event === event) return report as Extract<Report, { event: E }>;
      if (report !== undefined) continue;
      if (this.exitCode !== null) throw new Error(`load process exited (${this.exitCode})`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, deadline - Date.now());
      });
      this.wake = null;
    }
    throw new Error(`load process: no "${event}" within ${LOAD_REPLY_TIMEOUT_MS} ms`);
  }

  kill(): void {
    if (this.exitCode === null) this.child.kill("SIGKILL");
  }
}

// ---- one workload against one broker --------------------------------------------------

interface Marks {
  load: Snapshot;
  brokerCpuSeconds: number | null;
  machineCpuSeconds: number | null;
  timeMs: number;
}

async function mark(load: LoadProcess, brokerPid: number): Promise<Marks> {
  load.send({ cmd: "mark" });
  const brokerCpuSeconds = processCpuSeconds(brokerPid);
  const machine = machineCpuSeconds();
  const timeMs = performance.now();
  const snapshot = (await load.next("mark")).snapshot;
  return { load: snapshot, brokerCpuSeconds, machineCpuSeconds: machine, timeMs };
}

/** Percent of one core used between two readings; null if either is missing. */
function percentOf(a: number | null, b: number | null, seconds: number): number | null {
  return a === null || b === null ? null : Math.round(((b - a) * 100) / seconds);
}

function summarize(first: Marks, last: Marks, peakRss: number | null): Result {
  const seconds = (last.load.timeMs - first.load.timeMs) / 1000;
  const wallSeconds = (last.timeMs - first.timeMs) / 1000;
  const perSecond = (count: (s: Snapshot) => number) =>
    Math.round((count(last.load) - count(first.load)) / seconds);
  const brokerCpu = percentOf(first.brokerCpuSeconds, last.brokerCpuSeconds, wallSeconds);
  const machineCpu = percentOf(first.machineCpuSeconds, last.machineCpuSeconds, wallSeconds);
  const loadCpu = Math.round(perSecond((s) => s.cpuMicros) / 1e4);
  const otherCpu =
    machineCpu === null || brokerCpu === null
      ? null
      : Math.max(0, machineCpu - brokerCpu - loadCpu);
  return {
    receivedPerSecond: perSecond((s) => s.receivedCount),
    sentPerSecond: perSecond((s) => s.sentCount),
    ackedPerSecond: perSecond((s) => s.ackedCount),
    brokerCpuPercent: brokerCpu,
    loadCpuPercent: loadCpu,
    otherCpuPercent: otherCpu,
    brokerPeakRssMiB: peakRss,
    receivedCount: last.load.receivedCount - first.load.receivedCount,
    measuredSeconds: Math.round(seconds * 100) / 100,
  };
}

async function runWorkload(
  workload: Workload,
  broker: BrokerProcess,
  brokerName: BrokerName,
  options: Options,
): Promise<Result> {
  const load = new LoadProcess({
    host: HOST,
    port: broker.port,
    qos: workload.qos,
    topicPrefix: `bench/${workload.name}`,
    publisherCount: workload.publisherCount,
    windowCount: workload.windowCount,
    inFlightMax: QOS0_IN_FLIGHT_MAX,
    clientIdPrefix: `${brokerName}-${workload.name}`,
  });
  try {
    await load.next("ready");
    load.send({ cmd: "start" });
    await sleep(options.warmupSeconds * 1000);
    const first = await mark(load, broker.pid);
    await sleep(options.seconds * 1000);
    const last = await mark(load, broker.pid);
    const peakRss = peakRssMiB(broker.pid);
    load.send({ cmd: "stop" });
    await load.next("stopped");
    return summarize(first, last, peakRss);
  } finally {
    load.kill();
  }
}

async function runOne(workload: Workload, name: BrokerName, options: Options): Promise<Result> {
  let profileDir: string | null = null;
  if (options.cpuProfileDir !== null && name === "robustmq") {
    profileDir = join(options.cpuProfileDir, workload.name);
    mkdirSync(profileDir, { recursive: true });
  }
  const broker = await startBroker(name, profileDir);
  try {
    return await runWorkload(workload, broker, name, options);
  } finally {
    await broker.stop();
    if (profileDir !== null) printProfile(workload, profileDir);
  }
}

/** Prints the functions with the most self time in the newest profile of `dir`. */
function printProfile(workload: Workload, dir: string): void {
  const file = newestProfile(dir);
  if (file === null) {
    process.stderr.write(`no .cpuprofile in ${dir}\n`);
    return;
  }
  console.log(`\nRobustMQ self time, ${workload.title} (${file}), % of non-idle:`);
  for (const { where, percent } of topSelfTime(file, ROOT, PROFILE_TOP_COUNT)) {
    console.log(`  ${percent.toFixed(1).padStart(5)}%  ${where}`);
  }
}

// ---- output ---------------------------------------------------------------------------

interface Row {
  workload: Workload;
  results: Partial<Record<BrokerName, Result>>;
  ratio: number | null;
}

function ratioOf(results: Row["results"]): number | null {
  const r = results.robustmq;
  const a = results.aedes;
  if (r === undefined || a === undefined || r.error || a.error || a.receivedPerSecond === 0) {
    return null;
  }
  return Math.round((r.receivedPerSecond / a.receivedPerSecond) * 100) / 100;
}

const number = (n: number): string => n.toLocaleString("en-US");

function cell(result: Result | undefined): string {
  if (result === undefined) return "-";
  if (result.error !== undefined) return `error: ${result.error}`;
  return number(result.receivedPerSecond);
}

/** Received as a share of what the broker took: written (QoS 0) or acknowledged (QoS 1). */
function delivered(workload: Workload, result: Result | undefined): string {
  if (result === undefined || result.error !== undefined) return "-";
  const taken = workload.qos === 0 ? result.sentPerSecond : result.ackedPerSecond;
  return taken === 0 ? "-" : `${Math.round((result.receivedPerSecond * 100) / taken)}%`;
}

function cpu(result: Result | undefined): string {
  if (result === undefined || result.error !== undefined) return "-";
  const show = (n: number | null) => (n === null ? "?" : `${n}`);
  const { brokerCpuPercent: broker, loadCpuPercent: load, otherCpuPercent: other } = result;
  return `${show(broker)}/${load}/${show(other)}`;
}

function detail(workload: Workload, r: Result): string {
  const taken =
    workload.qos === 0 ? `sent ${number(r.sentPerSecond)}` : `acked ${number(r.ackedPerSecond)}`;
  return `${taken}/s, delivered ${delivered(workload, r)}, CPU % broker/load/other ${cpu(r)}`;
}

const TABLE_HEADER = [
  "Workload",
  "RobustMQ msg/s",
  "Aedes msg/s",
  "RobustMQ / Aedes",
  "Delivered R / A",
  "CPU % broker/load/other R",
  "CPU % broker/load/other A",
];

const tableRow = (cells: string[]): string => `| ${cells.join(" | ")} |`;

function markdownTable(rows: Row[]): string {
  const lines = [tableRow(TABLE_HEADER), `|---${"|---:".repeat(TABLE_HEADER.length - 1)}|`];
  for (const { workload, results: r, ratio } of rows) {
    lines.push(
      tableRow([
        workload.title,
        cell(r.robustmq),
        cell(r.aedes),
        ratio === null ? "-" : `${ratio.toFixed(2)}x`,
        `${delivered(workload, r.robustmq)} / ${delivered(workload, r.aedes)}`,
        cpu(r.robustmq),
        cpu(r.aedes),
      ]),
    );
  }
  return lines.join("\n");
}

function machine(): { cpuCount: number; cpuModel: string; memoryGiB: number; node: string } {
  const list = cpus();
  return {
    cpuCount: list.length,
    cpuModel: list[0]?.model ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
}

function writeResults(rows: Row[], options: Options, loadAverage: number): void {
  const dir = join(ROOT, "bench/results");
  mkdirSync(dir, { recursive: true });
  const generatedAt = new Date().toISOString();
  const m = machine();
  const settings = {
    warmupSeconds: options.warmupSeconds,
    measuredSeconds: options.seconds,
    payloadBytes: 64,
    protocol: "MQTT 3.1.1",
    qos0InFlightMax: QOS0_IN_FLIGHT_MAX,
    loadAverageAtStart: loadAverage,
  };
  const workloads = rows.map((r) => ({ ...r.workload, results: r.results, ratio: r.ratio }));
  const json = { generatedAt, machine: m, settings, workloads };
  writeFileSync(join(dir, "latest.json"), `${JSON.stringify(json, null, 2)}\n`);
  const markdown = [
    `# Benchmark results (${generatedAt})`,
    "",
    `Machine: ${m.cpuCount} x ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node};`,
    `load average ${loadAverage} at start.`,
    "",
    `Each figure: PUBLISH packets received per second by the subscriber over ${options.seconds} s`,
    `after ${options.warmupSeconds} s of warm-up; 64-byte payloads, MQTT 3.1.1. Delivered:`,
    "received / (QoS 0: sent, QoS 1: acknowledged by the broker). CPU: % of one core used by",
    "the broker, the load process and everything else on the machine. See bench/README.md.",
    "",
    markdownTable(rows),
    "",
  ].join("\n");
  writeFileSync(join(dir, "latest.md"), markdown);
  console.log(`\nwrote ${join(dir, "latest.json")} and latest.md`);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const loadAverage = Math.round(loadavg()[0] * 100) / 100;
  const perRun = `${options.warmupSeconds} s warm-up + ${options.seconds} s per run`;
  console.log(`load average ${loadAverage}; ${perRun}`);
  const rows: Row[] = [];
  for (const workload of options.workloads) {
    const results: Row["results"] = {};
    for (const name of options.brokers) {
      process.stdout.write(`${workload.title.padEnd(26)} ${name.padEnd(9)} `);
      let result: Result;
      try {
        result = await runOne(workload, name, options);
      } catch (err) {
        result = { error: err instanceof Error ? err.message : String(err) } as Result;
      }
      results[name] = result;
      const extra = result.error === undefined ? `  (${detail(workload, result)})` : "";
      console.log(`${cell(result)} msg/s${extra}`);
      if ((result.otherCpuPercent ?? 0) > OTHER_CPU_PERCENT_WARN) {
        console.log(`  warning: other processes used ${result.otherCpuPercent}% CPU meanwhile`);
      }
    }
    rows.push({ workload, results, ratio: ratioOf(results) });
  }
  console.log(`\n${markdownTable(rows)}`);
  const full =
    options.workloads.length === WORKLOADS.length &&
    options.brokers.length === BROKERS.length &&
    options.qos1WindowCount === null;
  if (options.write && full) writeResults(rows, options, loadAverage);
}

await main();
