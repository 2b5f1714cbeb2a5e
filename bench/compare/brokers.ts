/**
 * The three brokers of the comparison, each a real process of its own on a loopback port:
 *
 *   robustmq   node src/cli/main.ts start --mqtt-port 0 --kafka-port 0 --ws-port 0 --data-dir <tmp>
 *              (bound to 127.0.0.1)
 *   mosquitto  mosquitto -c <tmp>/mosquitto.conf, a config generated here (Debian package)
 *   aedes      node bench/peers/aedes-server.ts (npm devDependency): in-memory persistence, or
 *              with `persistence`, aedes-persistence-level on classic-level in <tmp>/level
 *
 * Each is started through `sh -c 'ulimit -n ...; exec ...'`, which raises its open-file limit
 * as far as the hard limit allows and keeps the pid. stop() sends SIGTERM, then SIGKILL.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { assert } from "../../src/errors.ts";

export const ROOT = new URL("../../", import.meta.url).pathname;
export const HOST = "127.0.0.1";
export const BROKER_NAMES = ["robustmq", "mosquitto", "aedes"] as const;
export type BrokerName = (typeof BROKER_NAMES)[number];

/** Open files asked for every process started here; the hard limit may allow fewer. */
export const OPEN_FILES_WANTED = 65_536;
const BROKER_START_TIMEOUT_MS = 20_000;
const BROKER_STOP_TIMEOUT_MS = 10_000;
const PORT_POLL_MS = 50;
const OUTPUT_LINES_KEPT = 20;

export interface BrokerSpec {
  /**
   * Workload 7. Mosquitto: `persistence true` with its own persistence_location. Aedes:
   * aedes-persistence-level on a classic-level (LevelDB) database in the broker's work
   * directory, removed at stop. RobustMQ is always durable; this changes nothing for it.
   */
  persistence: boolean;
  /** RobustMQ only: `node` flags (those of `npm start`, then any --robustmq-node-flag). */
  nodeFlags: readonly string[];
  /** RobustMQ only: run under `node --cpu-prof`, profiles written here. */
  cpuProfileDir: string | null;
  /** RobustMQ only: `--heapsnapshot-signal=SIGUSR2`, snapshots written here. */
  heapSnapshotDir: string | null;
  /**
   * RobustMQ only: connections the workload holds. Above the default `max_connections`
   * (10,000) the limit is raised to fit; below, the configuration stays the default.
   */
  connectionCount: number | null;
}

const ROBUSTMQ_MAX_CONNECTIONS_DEFAULT = 10_000;

export interface RunningBroker {
  name: BrokerName;
  port: number;
  pid: number;
  /** The broker exited before stop() was called. */
  exited(): boolean;
  stop(): Promise<void>;
}

const MAIN_SCRIPT = "src/cli/main.ts";

/**
 * The `node` flags of a start script `node FLAGS... src/cli/main.ts start`: the harness starts
 * RobustMQ with the flags `npm start` uses, so that it measures what users run.
 */
export function startScriptNodeFlags(script: string): string[] {
  const words = script.trim().split(/\s+/);
  const main = words.indexOf(MAIN_SCRIPT);
  assert(words[0] === "node" && main > 0, `start script "${script}": node [flags] ${MAIN_SCRIPT}`);
  const flags = words.slice(1, main);
  assert(
    flags.every((f) => f.startsWith("--")),
    `start script "${script}": only --flags before ${MAIN_SCRIPT}`,
  );
  return flags;
}

/** startScriptNodeFlags of this package.json's `start` script. */
export function robustmqStartFlags(): string[] {
  const text = readFileSync(join(ROOT, "package.json"), "utf8");
  const scripts = (JSON.parse(text) as { scripts?: Record<string, string> }).scripts ?? {};
  assert(scripts.start !== undefined, "package.json has a start script");
  return startScriptNodeFlags(scripts.start);
}

/** `sh -c` that raises the soft open-file limit (to OPEN_FILES_WANTED, else the hard limit). */
export function withFileLimit(command: string, args: readonly string[]): [string, string[]] {
  const toHard = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null';
  const raise = `ulimit -n ${OPEN_FILES_WANTED} 2>/dev/null || ${toHard}`;
  return ["/bin/sh", ["-c", `${raise}; exec "$0" "$@"`, command, ...args]];
}

/** The open-file limit processes started through withFileLimit get. */
export function childFileLimit(): number {
  const [shell, args] = withFileLimit("/bin/sh", ["-c", "ulimit -n"]);
  const text = execFileSync(shell, args, { encoding: "utf8" }).trim();
  return text === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(text);
}

export function findMosquitto(): string | null {
  for (const path of ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"]) {
    if (existsSync(path)) return path;
  }
  try {
    return execFileSync("/bin/sh", ["-c", "command -v mosquitto"], { encoding: "utf8" }).trim();
  } catch {
    return null;
  }
}

/**
 * Mosquitto from Debian (apt-get) when it is missing. The package starts a system mosquitto
 * on port 1883; that one is stopped again (this harness runs its own on other ports).
 */
export function ensureMosquitto(log: (line: string) => void): string {
  const found = findMosquitto();
  if (found !== null) return found;
  log("mosquitto is missing: apt-get install -y mosquitto (needs root)");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env, timeout: 300_000 });
  execFileSync("apt-get", ["install", "-y", "-qq", "mosquitto"], {
    stdio: "inherit",
    env,
    timeout: 300_000,
  });
  const stopSystem = "systemctl stop mosquitto 2>/dev/null || service mosquitto stop 2>/dev/null";
  execFileSync("/bin/sh", ["-c", `${stopSystem}; true`], { stdio: "inherit" });
  const installed = findMosquitto();
  assert(installed !== null, "mosquitto installed but not found on the PATH");
  return installed;
}

/** A port that was free a moment ago (Mosquitto needs a number in its config). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert(port > 0, "the kernel picked a port");
  return port;
}

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
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

function mosquittoConfig(port: number, workDir: string, persistence: boolean): string {
  const lines = [
    "# generated by bench/compare/brokers.ts",
    "per_listener_settings false",
    `listener ${port} ${HOST}`,
    "allow_anonymous true",
    "max_queued_messages 1000",
    persistence ? "persistence true" : "persistence false",
    ...(persistence ? [`persistence_location ${join(workDir, "persistence")}/`] : []),
    "log_dest stderr",
    "log_type error",
    "log_type warning",
    "connection_messages false",
  ];
  return `${lines.join("\n")}\n`;
}

interface Launch {
  command: string;
  args: string[];
  /** Known in advance (Mosquitto), or null: read from the `"listener":"mqtt"` log line. */
  port: number | null;
}

async function launchFor(name: BrokerName, workDir: string, spec: BrokerSpec): Promise<Launch> {
  if (name === "aedes") {
    const level = spec.persistence ? ["--level", join(workDir, "level")] : [];
    return {
      command: process.execPath,
      args: [join(ROOT, "bench/peers/aedes-server.ts"), ...level],
      port: null,
    };
  }
  if (name === "mosquitto") {
    const port = await freePort();
    const config = join(workDir, "mosquitto.conf");
    writeFileSync(config, mosquittoConfig(port, workDir, spec.persistence));
    const binary = findMosquitto();
    assert(binary !== null, "mosquitto is installed (ensureMosquitto)");
    return { command: binary, args: ["-c", config], port };
  }
  const config = join(workDir, "robustmq.toml");
  // Loopback only; the admin API and RPC on any free port so parallel runs do not collide.
  let toml = `http_port = 0\ngrpc_port = 0\n\n[network]\nbind_address = "${HOST}"\n`;
  const count = spec.connectionCount;
  if (count !== null && count > ROBUSTMQ_MAX_CONNECTIONS_DEFAULT) {
    toml += `\n[mqtt_limits]\nmax_connections = ${count}\n`;
  }
  writeFileSync(config, toml);
  const node: string[] = [...spec.nodeFlags];
  if (spec.cpuProfileDir !== null) node.push("--cpu-prof", "--cpu-prof-dir", spec.cpuProfileDir);
  if (spec.heapSnapshotDir !== null) {
    node.push("--heapsnapshot-signal=SIGUSR2", "--diagnostic-dir", spec.heapSnapshotDir);
  }
  const main = join(ROOT, MAIN_SCRIPT);
  const dataDir = join(workDir, "data");
  const args = [
    ...node,
    main,
    "start",
    "--mqtt-port",
    "0",
    "--kafka-port",
    "0",
    "--ws-port",
    "0",
    "--data-dir",
    dataDir,
  ];
  return { command: process.execPath, args: [...args, "--config", config], port: null };
}

/** Resolves with the port once the broker listens; rejects if it exits or takes too long. */
async function waitUntilListening(
  name: BrokerName,
  child: ChildProcess,
  knownPort: number | null,
  exited: Promise<string>,
): Promise<number> {
  const deadline = Date.now() + BROKER_START_TIMEOUT_MS;
  let logged: number | null = null;
  eachLine(child.stdout, (line) => {
    const match = /"listener":"mqtt".*"address":"[^"]*:(\d+)"/.exec(line);
    if (match !== null) logged = Number(match[1]);
  });
  let failure: string | null = null;
  void exited.then((why) => {
    failure = why;
  });
  while (Date.now() < deadline) {
    if (failure !== null) throw new Error(`${name} exited while starting: ${failure}`);
    const port = knownPort ?? logged;
    if (port !== null && (await portAccepts(port))) return port;
    await sleep(PORT_POLL_MS);
  }
  throw new Error(`${name} did not listen within ${BROKER_START_TIMEOUT_MS} ms`);
}

export async function startBroker(name: BrokerName, spec: BrokerSpec): Promise<RunningBroker> {
  const workDir = mkdtempSync(join(tmpdir(), `bench-compare-${name}-`));
  // Mosquitto started as root drops to the `mosquitto` user; it must still write its files.
  chmodSync(workDir, 0o777);
  const launch = await launchFor(name, workDir, spec);
  const [shell, args] = withFileLimit(launch.command, launch.args);
  const child = spawn(shell, args, { stdio: ["ignore", "pipe", "pipe"], cwd: workDir });
  assert(child.pid !== undefined, `${name} was spawned`);
  const tail: string[] = [];
  // Both pipes are read for the whole run: a full pipe would stall the broker.
  eachLine(child.stderr, (line) => {
    tail.push(line);
    if (tail.length > OUTPUT_LINES_KEPT) tail.shift();
  });
  let exitCode: number | string | null = null;
  const exited = new Promise<string>((resolve) =>
    child.once("exit", (code, signal) => {
      exitCode = code ?? signal ?? "?";
      resolve(`exit ${exitCode}: ${tail.slice(-3).join(" | ")}`);
    }),
  );
  let port: number;
  try {
    port = await waitUntilListening(name, child, launch.port, exited);
  } catch (error) {
    child.kill("SIGKILL");
    rmSync(workDir, { recursive: true, force: true });
    throw error;
  }
  const stop = async (): Promise<void> => {
    if (exitCode === null) child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), BROKER_STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    rmSync(workDir, { recursive: true, force: true });
  };
  return { name, port, pid: child.pid, exited: () => exitCode !== null, stop };
}
