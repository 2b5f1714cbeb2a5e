/**
 * RobustMQ side by side with Mosquitto and Aedes. For each workload (workloads.ts), each broker
 * in turn is started fresh on its own loopback port (brokers.ts), loaded by the same generator
 * (`robustmq bench mqtt ... --json`, generator.ts), and stopped. Progress goes to stderr, the
 * table to stdout; a full run writes bench/results/compare.{md,svg,json}.
 *
 *   node bench/compare/run.ts [--quick] [--seconds 5] [--warmup-seconds 1] [--connections 9000]
 *       [--brokers robustmq,mosquitto,aedes] [--workloads 1,2,...] [--cpu-prof DIR]
 *       [--heap-snapshot DIR] [--robustmq-node-flag FLAG]... [--no-start-flags] [--no-write]
 *       [--no-install]
 *
 * Workload 5 runs LATENCY_ROUNDS times per broker, interleaved (repeat.ts): medians reported.
 * Workload 7 runs Aedes on disk (aedes-persistence-level); its reference row "7 ref" runs the
 * in-memory Aedes once more.
 * --quick: workloads 1-5, 3 s each, nothing written (what `npm run bench` runs).
 * --cpu-prof DIR: RobustMQ under `node --cpu-prof`; prints its top self-time functions.
 * --heap-snapshot DIR: workload 6, RobustMQ: heap growth per connection, by constructor.
 * --robustmq-node-flag FLAG: start RobustMQ as `node FLAG ...` (repeatable), for experiments
 *   such as --max-semi-space-size=2; a full run with one writes nothing.
 * RobustMQ starts with the node flags of package.json's `start` script (as `npm start` does);
 *   --no-start-flags: without them (a full run with it writes nothing).
 * Mosquitto is installed with apt-get when missing, unless --no-install.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import {
  BROKER_NAMES,
  type BrokerName,
  childFileLimit,
  ensureMosquitto,
  findMosquitto,
  ROOT,
  robustmqStartFlags,
  startBroker,
} from "./brokers.ts";
import { formatSelfTime, newestFile, topSelfTime } from "./profile.ts";
import { combineRounds, interleavedOrder } from "./repeat.ts";
import {
  type BrokerResult,
  chartSvg,
  cpuTable,
  notesList,
  resultsJson,
  resultsTable,
  type WorkloadResult,
} from "./report.ts";
import { LATENCY_ROUNDS, type Settings, WORKLOADS, type Workload } from "./workloads.ts";

const CONNECTIONS_DEFAULT = 9_000;
/** Files each process keeps for itself besides the connections (workers, logs, data). */
const OPEN_FILES_SPARE = 1_000;
const QUICK_WORKLOAD_IDS = [1, 2, 3, 4, 5];
const QUICK_SECONDS = 3;
const PROFILE_TOP_COUNT = 15;
const RESULTS_DIR = join(ROOT, "bench/results");

interface Options {
  settings: Settings;
  brokers: BrokerName[];
  workloads: Workload[];
  quick: boolean;
  cpuProfileDir: string | null;
  /** Extra `node` flags for RobustMQ (--robustmq-node-flag). */
  nodeFlags: string[];
  /** Start RobustMQ with the node flags of `npm start` (false: --no-start-flags). */
  startFlags: boolean;
  write: boolean;
  install: boolean;
}

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

function positive(flag: string, value: string | undefined, max: number): number {
  const n = Number(value);
  if (!(n > 0 && n <= max)) throw new Error(`${flag} ${value}: expected a number in (0, ${max}]`);
  return n;
}

function pick<T>(flag: string, value: string, all: readonly T[], nameOf: (t: T) => string): T[] {
  const names = value.split(",").filter((n) => n !== "");
  const known = all.map(nameOf);
  for (const n of names) {
    if (!known.includes(n)) throw new Error(`${flag}: ${n} is not one of ${known.join(", ")}`);
  }
  return all.filter((t) => names.includes(nameOf(t)));
}

function parseOptions(argv: readonly string[]): Options {
  const settings: Settings = {
    seconds: 5,
    warmupSeconds: 1,
    connectionCount: CONNECTIONS_DEFAULT,
    heapSnapshotDir: null,
  };
  const options: Options = {
    settings,
    brokers: [...BROKER_NAMES],
    workloads: [...WORKLOADS],
    quick: argv.includes("--quick"),
    cpuProfileDir: null,
    nodeFlags: [],
    startFlags: !argv.includes("--no-start-flags"),
    write: !argv.includes("--no-write"),
    install: !argv.includes("--no-install"),
  };
  if (options.quick) {
    options.workloads = WORKLOADS.filter((w) => QUICK_WORKLOAD_IDS.includes(w.id));
    settings.seconds = QUICK_SECONDS;
    options.write = false;
  }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (["--quick", "--no-write", "--no-install", "--no-start-flags"].includes(flag)) continue;
    const value = argv[++i];
    if (flag === "--seconds") settings.seconds = positive(flag, value, 600);
    else if (flag === "--warmup-seconds") settings.warmupSeconds = positive(flag, value, 600);
    else if (flag === "--connections")
      settings.connectionCount = Math.round(positive(flag, value, 1e6));
    else if (flag === "--brokers")
      options.brokers = pick(flag, value ?? "", BROKER_NAMES, (b) => b);
    else if (flag === "--workloads")
      options.workloads = pick(flag, value ?? "", WORKLOADS, (w) => String(w.id));
    else if (flag === "--cpu-prof") options.cpuProfileDir = value ?? "";
    else if (flag === "--heap-snapshot") settings.heapSnapshotDir = value ?? "";
    else if (flag === "--robustmq-node-flag" && value?.startsWith("--"))
      options.nodeFlags.push(value);
    else throw new Error(`unknown option ${flag} (see the header of bench/compare/run.ts)`);
  }
  return options;
}

/** N must fit in the open-file limit of the broker and of the generator (the same limit). */
function fitConnections(settings: Settings): void {
  const limit = childFileLimit();
  const fitting = Math.max(100, limit - OPEN_FILES_SPARE);
  if (settings.connectionCount > fitting) {
    log(`open files limited to ${limit}: ${fitting} connections, not ${settings.connectionCount}`);
    settings.connectionCount = fitting;
  }
}

function printProfile(workload: Workload, dir: string): string | null {
  const file = newestFile(dir, ".cpuprofile");
  if (file === null) {
    log(`no .cpuprofile in ${dir}`);
    return null;
  }
  log(`RobustMQ self time, workload ${workload.id} (${file}), % of non-idle samples:`);
  log(formatSelfTime(topSelfTime(file, PROFILE_TOP_COUNT)));
  return file;
}

function robustmqNodeFlags(options: Options): string[] {
  return [...(options.startFlags ? robustmqStartFlags() : []), ...options.nodeFlags];
}

async function runOne(
  workload: Workload,
  name: BrokerName,
  options: Options,
): Promise<BrokerResult> {
  const prefix = `[${workload.id} ${workload.key} ${name}]`;
  let profileDir: string | null = null;
  if (options.cpuProfileDir !== null && name === "robustmq") {
    profileDir = join(options.cpuProfileDir, `w${workload.id}`);
    mkdirSync(profileDir, { recursive: true });
  }
  const heapSnapshotDir = workload.id === 6 ? options.settings.heapSnapshotDir : null;
  if (heapSnapshotDir !== null) mkdirSync(heapSnapshotDir, { recursive: true });
  const spec = {
    persistence: workload.persistence,
    nodeFlags: name === "robustmq" ? robustmqNodeFlags(options) : [],
    cpuProfileDir: profileDir,
    heapSnapshotDir,
    connectionCount: workload.id === 6 ? options.settings.connectionCount : null,
  };
  try {
    const broker = await startBroker(name, spec);
    log(`${prefix} started on port ${broker.port}, pid ${broker.pid}`);
    let measurement: BrokerResult["measurement"];
    try {
      measurement = await workload.run({
        broker,
        settings: options.settings,
        log: (l) => log(`${prefix} ${l}`),
      });
    } finally {
      await broker.stop();
    }
    const profile = profileDir === null ? null : printProfile(workload, profileDir);
    if (profile !== null) measurement.extra.cpuProfile = profile;
    log(
      `${prefix} ${JSON.stringify(measurement.values)}, delivered share ` +
        (measurement.deliveredShare?.toFixed(3) ?? "-"),
    );
    return { measurement, error: null };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(`${prefix} failed: ${message}`);
    return { measurement: null, error: message };
  }
}

type VersionKey = BrokerName | "aedesPersistenceLevel" | "classicLevel" | "node";

/** Every broker that takes part, LATENCY_ROUNDS times for workload 5, interleaved. */
async function runWorkload(workload: Workload, options: Options): Promise<WorkloadResult> {
  const only = workload.brokers;
  const brokers = options.brokers.filter((b) => only === null || only.includes(b));
  const results = new Map<BrokerName, BrokerResult[]>(brokers.map((b) => [b, []]));
  for (const { broker, round } of interleavedOrder(brokers, workload.rounds)) {
    if (workload.rounds > 1) log(`[${workload.id} ${workload.key}] round ${round + 1} ${broker}`);
    results.get(broker)?.push(await runOne(workload, broker, options));
  }
  const row: WorkloadResult = { workload, results: {} };
  const key = workload.metrics[workload.metrics.length - 1].key;
  for (const [broker, list] of results) row.results[broker] = combineRounds(list, key);
  return row;
}

function versions(): Record<VersionKey, string> {
  const packageVersion = (path: string): string =>
    (JSON.parse(readFileSync(join(ROOT, path), "utf8")) as { version: string }).version;
  let mosquitto = "not installed";
  const binary = findMosquitto();
  if (binary !== null) {
    try {
      execFileSync(binary, ["-h"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    } catch (error) {
      // `mosquitto -h` prints its version and exits with status 3.
      const stdout = String((error as { stdout?: string }).stdout ?? "");
      mosquitto = /version (\S+)/.exec(stdout)?.[1] ?? "unknown";
    }
  }
  return {
    robustmq: packageVersion("package.json"),
    mosquitto,
    aedes: packageVersion("node_modules/aedes/package.json"),
    aedesPersistenceLevel: packageVersion("node_modules/aedes-persistence-level/package.json"),
    classicLevel: packageVersion("node_modules/classic-level/package.json"),
    node: process.version,
  };
}

function markdown(
  rows: WorkloadResult[],
  options: Options,
  header: Record<string, unknown>,
): string {
  const s = options.settings;
  const v = header.versions as Record<string, string>;
  return [
    `# RobustMQ, Mosquitto and Aedes side by side (${header.generatedAt})`,
    "",
    `Machine: ${header.machine}; load average ${header.loadAverage} at start. The run took`,
    `${header.elapsedSeconds} s. Made by \`npm run bench:compare\`; bench/README.md says what`,
    "each workload does and how to read it.",
    "",
    `Brokers: RobustMQ ${v.robustmq} (Node ${v.node}, started as \`npm start\` does:`,
    `node flags ${header.robustmqNodeFlags}), Mosquitto ${v.mosquitto} (Debian),`,
    `Aedes ${v.aedes} (npm), each a fresh process per workload on 127.0.0.1. In workload 7`,
    `Aedes keeps its sessions on disk with aedes-persistence-level ${v.aedesPersistenceLevel}`,
    `on classic-level ${v.classicLevel} (LevelDB, no fsync per write); row "7 ref" is Aedes`,
    "in memory, for reference. Workload 5: each broker measured",
    `${LATENCY_ROUNDS} times, interleaved; the median p50 and p99 (each round in compare.json).`,
    "Load: `robustmq bench mqtt ... --json` for all three; MQTT 3.1.1 (Aedes has no MQTT 5)",
    `except in workload 7; 64-byte payloads; a ${s.warmupSeconds} s warm-up run, then a`,
    `${s.seconds} s measured run.`,
    "",
    "Delivered msg/s: PUBLISH packets the subscribers received per second, first to last",
    "arrival. In brackets, the delivered share: received / what should have arrived (sent x",
    "matching subscribers, or acknowledged by the broker for the shared subscription).",
    "",
    resultsTable(rows, s),
    "",
    "Notes:",
    "",
    notesList(rows),
    "",
    "CPU over each measured run, % of one core (2 cores = 200%): the broker / everything else",
    "(the load generator, the kernel, other jobs on the machine).",
    "",
    cpuTable(rows),
    "",
  ].join("\n");
}

function writeResults(
  rows: WorkloadResult[],
  options: Options,
  header: Record<string, unknown>,
): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const json = {
    ...header,
    settings: options.settings,
    workloads: resultsJson(rows, options.settings),
  };
  writeFileSync(join(RESULTS_DIR, "compare.json"), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(join(RESULTS_DIR, "compare.md"), markdown(rows, options, header));
  const day = String(header.generatedAt).slice(0, 10);
  const title = `RobustMQ vs Mosquitto vs Aedes, ${day}, ${header.machine}`;
  writeFileSync(join(RESULTS_DIR, "compare.svg"), chartSvg(rows, title));
  log(`wrote ${join(RESULTS_DIR, "compare.md")}, compare.svg and compare.json`);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const startMs = performance.now();
  const loadAverage = Math.round(loadavg()[0] * 100) / 100;
  if (options.brokers.includes("mosquitto")) {
    if (options.install) ensureMosquitto(log);
    else if (findMosquitto() === null) throw new Error("mosquitto is not installed (--no-install)");
  }
  if (!existsSync(join(ROOT, "node_modules/aedes"))) throw new Error("aedes is missing: npm ci");
  fitConnections(options.settings);
  const flags = robustmqNodeFlags(options).join(" ") || "none";
  log(
    `load average ${loadAverage}; ${options.workloads.length} workloads x ` +
      `${options.brokers.length} brokers; RobustMQ node flags: ${flags}`,
  );
  const rows: WorkloadResult[] = [];
  for (const workload of options.workloads) rows.push(await runWorkload(workload, options));
  const elapsedSeconds = Math.round((performance.now() - startMs) / 1000);
  console.log(resultsTable(rows, options.settings));
  console.log(`\n${notesList(rows)}\n\n${cpuTable(rows)}`);
  log(`done in ${elapsedSeconds} s`);
  const full =
    options.workloads.length === WORKLOADS.length &&
    options.brokers.length === BROKER_NAMES.length &&
    options.cpuProfileDir === null &&
    options.nodeFlags.length === 0 &&
    options.startFlags &&
    options.settings.heapSnapshotDir === null;
  if (!options.write || !full) return;
  const list = cpus();
  const memoryGiB = Math.round(totalmem() / 2 ** 30);
  const machine = `${list.length} x ${list[0]?.model ?? "unknown"}, ${memoryGiB} GiB`;
  const header = {
    generatedAt: new Date().toISOString(),
    machine,
    loadAverage,
    elapsedSeconds,
    versions: versions(),
    robustmqNodeFlags: robustmqNodeFlags(options).join(" ") || "none",
  };
  writeResults(rows, options, header);
}

await main();
