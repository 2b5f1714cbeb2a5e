/**
 * `robustmq bench kafka produce|consume`: registers the commands and their options with
 * commander, and runs one. The load generator itself is imported when a command runs, so
 * `--help` stays fast. Exit status as `bench mqtt`: 0 without errors, 1 with, 2 for invalid
 * options.
 */
import { availableParallelism } from "node:os";
import type { Command } from "commander";
import { addSubcommands, parseOrExit, runAndExit } from "../shared/cli.ts";
import {
  KAFKA_COMMANDS,
  KAFKA_OPTION_SPECS,
  type KafkaCommand,
  type RawKafkaFlags,
} from "./option-specs.ts";

const DESCRIPTIONS: Readonly<Record<KafkaCommand, string>> = {
  produce: "produce records from --producers clients (and read them back with --consumers)",
  consume: "read a topic's partitions with --consumers clients (by assignment, no group)",
};

/** Adds `kafka <command>` under the `bench` command. */
export function registerKafkaBench(bench: Command): void {
  const kafka = bench.command("kafka").description("Kafka load: produce or consume");
  addSubcommands(kafka, KAFKA_COMMANDS, DESCRIPTIONS, KAFKA_OPTION_SPECS, runKafkaCommand);
}

async function runKafkaCommand(name: KafkaCommand, flags: RawKafkaFlags): Promise<void> {
  const { parseKafkaOptions } = await import("./options.ts");
  const options = parseOrExit(() => parseKafkaOptions(name, flags, availableParallelism()));
  const { runKafkaBench } = await import("./run.ts");
  const { formatKafkaSummary } = await import("./report.ts");
  const { kafkaVerdict } = await import("./summary.ts");
  await runAndExit({
    json: options.json,
    run: (io) => runKafkaBench(options, io),
    format: formatKafkaSummary,
    verdict: kafkaVerdict,
  });
}
