/**
 * `robustmq bench mqtt conn|pub|sub|pubsub`: registers the commands and their options with
 * commander, and runs one. Only the option table is loaded up front; the load generator itself
 * is imported when a command runs, so `--help` stays fast.
 *
 * Exit status: 0 for a run without errors, 1 when clients failed to connect or errors happened
 * during the run (the summary is printed either way), 2 for invalid options.
 */

import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import type { Command } from "commander";
import { RobustMQError } from "../errors.ts";
import { registerKafkaBench } from "./kafka/command.ts";
import {
  BENCH_COMMANDS,
  type BenchCommand,
  OPTION_SPECS,
  type RawBenchFlags,
} from "./option-specs.ts";
import type { BenchOptions } from "./options.ts";

const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;

const DESCRIPTIONS: Readonly<Record<BenchCommand, string>> = {
  conn: "open connections at --conn-rate and hold them for --duration",
  pub: "publish from -c clients to the -t topic pattern",
  sub: "subscribe -c clients to the -t topic filter pattern and count what arrives",
  pubsub: "publishers and subscribers in one run, with end-to-end latency",
};

/** Adds `bench mqtt <command>` and `bench kafka <command>` to the program. */
export function registerBenchCommand(program: Command): void {
  const bench = program.command("bench").description("load generators (see docs/bench.md)");
  const mqtt = bench.command("mqtt").description("MQTT load: conn, pub, sub or pubsub");
  for (const name of BENCH_COMMANDS) {
    const command = mqtt.command(name).description(DESCRIPTIONS[name]);
    for (const spec of OPTION_SPECS) {
      if (spec.commands.includes(name)) command.option(spec.flags, spec.description);
    }
    command.action((flags: RawBenchFlags) => runBenchCommand(name, flags));
  }
  registerKafkaBench(bench);
}

function writeAndWait(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => {
    stream.write(text, () => resolve());
  });
}

async function parseOrExit(name: BenchCommand, flags: RawBenchFlags): Promise<BenchOptions> {
  const { parseBenchOptions } = await import("./options.ts");
  try {
    return parseBenchOptions(name, flags, {
      cpuCount: availableParallelism(),
      pid: process.pid,
      readFile: (path) => readFileSync(path, "utf8"),
    });
  } catch (error) {
    if (!(error instanceof RobustMQError)) throw error;
    process.stderr.write(`error ${error.code}: ${error.message}\n`);
    process.exit(EXIT_USAGE);
  }
}

/** The first SIGINT/SIGTERM ends the run early (summary still printed); a second exits at once. */
function interruptSignal(): Promise<void> {
  return new Promise((resolve) => {
    let count = 0;
    const onSignal = (): void => {
      count++;
      if (count > 1) process.exit(EXIT_FAILURE);
      process.stderr.write(
        "stopping: finishing the run and printing the summary (again to quit)\n",
      );
      resolve();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}

async function runBenchCommand(name: BenchCommand, flags: RawBenchFlags): Promise<void> {
  const options = await parseOrExit(name, flags);
  const { runBench } = await import("./run.ts");
  const { formatSummary } = await import("./report.ts");
  const { verdict } = await import("./summary.ts");
  const progress = process.stderr.isTTY
    ? (line: string) => process.stderr.write(`${line}\n`)
    : null;
  const summary = await runBench(options, { progress, interrupted: interruptSignal() });
  const text = options.json ? `${JSON.stringify(summary)}\n` : formatSummary(summary);
  await writeAndWait(process.stdout, text);
  const outcome = verdict(summary);
  if (outcome.code !== null) {
    await writeAndWait(process.stderr, `error ${outcome.code}: ${outcome.message}\n`);
  }
  process.exit(outcome.exitCode);
}
