import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname;
const MAIN = join(ROOT, "src/cli/main.ts");

export interface LogLine {
  level: string;
  msg: string;
  [key: string]: unknown;
}

export interface BrokerProcess {
  readonly port: number;
  readonly url: string;
  readonly child: ChildProcess;
  readonly logs: LogLine[];
  readonly dataDir: string;
  /** The Kafka listener's port; null when the broker runs without it. */
  readonly kafkaPort: number | null;
  /** Each listener's port by its logged name: "mqtt", "mqtts", "ws", "wss", "kafka", "admin". */
  readonly ports: Readonly<Record<string, number>>;
  /** Resolves with the first log line (already seen or future) that satisfies `match`. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartOptions {
  /** TOML written to a config file passed with --config. */
  config?: string;
  args?: string[];
  logLevel?: string;
  /** Reuse this data directory (a restart); the caller removes it. Default: a new one. */
  dataDir?: string;
  /** A command the broker runs under (it is appended: `prefix... node main.ts start ...`). */
  prefix?: string[];
}

/** Starts the real broker process (`robustmq start`) on a free port and waits until it listens. */
export async function startBroker(options: StartOptions = {}): Promise<BrokerProcess> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "rmq-test-"));
  const args = [MAIN, "start", "--mqtt-port", "0", "--http-port", "0", "--data-dir", dataDir];
  // Port 0 everywhere: parallel brokers must not clash on the default 8083.
  args.push("--kafka-port", "0", "--ws-port", "0");
  args.push("--log-level", options.logLevel ?? "debug");
  if (options.config !== undefined) {
    const file = join(dataDir, "robustmq.toml");
    writeFileSync(file, options.config);
    args.push("--config", file);
  }
  args.push(...(options.args ?? []));
  const [command, ...commandArgs] = [...(options.prefix ?? []), process.execPath, ...args];
  const child = spawn(command, commandArgs, { stdio: ["ignore", "pipe", "pipe"] });
  const logs: LogLine[] = [];
  const waiters: Array<{ match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  let pending = "";
  child.stdout?.setEncoding("utf8");
  child.stdout?.on("data", (chunk: string) => {
    pending += chunk;
    let nl = pending.indexOf("\n");
    while (nl >= 0) {
      const text = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      nl = pending.indexOf("\n");
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { level: "raw", msg: text };
      }
      logs.push(line);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i].match(line)) waiters.splice(i, 1)[0].resolve(line);
      }
    }
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );

  function waitForLog(match: (line: LogLine) => boolean, timeoutMs = 5000): Promise<LogLine> {
    const seen = logs.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`log line not seen in ${timeoutMs} ms; stderr: ${stderr}`));
      }, timeoutMs);
      waiters.push({
        match,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  }

  const listening = await Promise.race([
    waitForLog((l) => l.listener === "mqtt", 15000),
    exited.then((code) => {
      throw new Error(`broker exited with ${code} before listening: ${stderr}`);
    }),
  ]);
  const port = Number(String(listening.address).split(":").pop());
  // "RobustMQ started" comes after every listener is up, so the kafka line is in by then.
  await waitForLog((l) => l.msg === "RobustMQ started", 15000);
  const ports: Record<string, number> = {};
  for (const line of logs) {
    if (typeof line.listener === "string" && line.address !== undefined) {
      ports[line.listener] = Number(String(line.address).split(":").pop());
    }
  }
  const kafkaPort = ports.kafka ?? null;
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    child,
    logs,
    dataDir,
    kafkaPort,
    ports,
    waitForLog,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}
