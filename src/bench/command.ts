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
import { registerKafkaBench } from "./kafka/command.ts";
import {
  BENCH_COMMANDS,
  type BenchCommand,
  OPTION_SPECS,
  type RawBenchFlags,
} from "./option-specs.ts";
import { addSubcommands, parseOrExit, runAndExit } from "./shared/cli.ts";

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
  addSubcommands(mqtt, BENCH_COMMANDS, DESCRIPTIONS, OPTION_SPECS, runBenchCommand);
  registerKafkaBench(bench);
}

async function runBenchCommand(name: BenchCommand, flags: RawBenchFlags): Promise<void> {
  const { parseBenchOptions } = await import("./options.ts");
  const options = parseOrExit(() =>
    parseBenchOptions(name, flags, {
      cpuCount: availableParallelism(),
      pid: process.pid,
      readFile: (path) => readFileSync(path, "utf8"),
    }),
  );
  const { runBench } = await import("./run.ts");
  const { formatSummary } = await import("./report.ts");
  const { verdict } = await import("./summary.ts");
  await runAndExit({
    json: options.json,
    run: (io) => runBench(options, io),
    format: formatSummary,
    verdict,
  });
}
