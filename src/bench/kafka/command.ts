/**
 * `robustmq bench kafka produce|consume`: registers the commands and their options with
 * commander, and runs one. The load generator itself is imported when a command runs, so
 * `--help` stays fast. Exit status as `bench mqtt`: 0 without errors, 1 with, 2 for invalid
 * options.
 */
import { availableParallelism } from "node:os";
import type { Command } from "commander";
import { RobustMQError } from "../../errors.ts";
import {
  KAFKA_COMMANDS,
  KAFKA_OPTION_SPECS,
  type KafkaCommand,
  type RawKafkaFlags,
} from "./option-specs.ts";

const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;

const DESCRIPTIONS: Readonly<Record<KafkaCommand, string>> = {
  produce: "produce records from --producers clients (and read them back with --consumers)",
  consume: "read a topic's partitions with --consumers clients (by assignment, no group)",
};

/** Adds `kafka <command>` under the `bench` command. */
export function registerKafkaBench(bench: Command): void {
  const kafka = bench.command("kafka").description("Kafka load: produce or consume");
  for (const name of KAFKA_COMMANDS) {
    const command = kafka.command(name).description(DESCRIPTIONS[name]);
    for (const spec of KAFKA_OPTION_SPECS) {
      if (spec.commands.includes(name)) command.option(spec.flags, spec.description);
    }
    command.action((flags: RawKafkaFlags) => runKafkaCommand(name, flags));
  }
}

function writeAndWait(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => {
    stream.write(text, () => resolve());
  });
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

async function runKafkaCommand(name: KafkaCommand, flags: RawKafkaFlags): Promise<void> {
  const { parseKafkaOptions } = await import("./options.ts");
  let options: ReturnType<typeof parseKafkaOptions>;
  try {
    options = parseKafkaOptions(name, flags, availableParallelism());
  } catch (error) {
    if (!(error instanceof RobustMQError)) throw error;
    process.stderr.write(`error ${error.code}: ${error.message}\n`);
    process.exit(EXIT_USAGE);
  }
  const { runKafkaBench } = await import("./run.ts");
  const { formatKafkaSummary } = await import("./report.ts");
  const { kafkaVerdict } = await import("./summary.ts");
  const progress = process.stderr.isTTY
    ? (line: string) => process.stderr.write(`${line}\n`)
    : null;
  const summary = await runKafkaBench(options, { progress, interrupted: interruptSignal() });
  const text = options.json ? `${JSON.stringify(summary)}\n` : formatKafkaSummary(summary);
  await writeAndWait(process.stdout, text);
  const outcome = kafkaVerdict(summary);
  if (outcome.code !== null) {
    await writeAndWait(process.stderr, `error ${outcome.code}: ${outcome.message}\n`);
  }
  process.exit(outcome.exitCode);
}
