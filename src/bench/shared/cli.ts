/**
 * What `bench mqtt` and `bench kafka` do the same way around a run: invalid options exit with
 * status 2, the summary goes to stdout (text or --json), the verdict's code to stderr, and the
 * first SIGINT/SIGTERM ends the run early while a second exits at once.
 */
import type { Command } from "commander";
import { RobustMQError } from "../../errors.ts";
import type { BenchIo } from "./run.ts";
import type { ExitVerdict } from "./summary.ts";

/** One flag as commander registers it, and the commands that take it. */
export interface OptionSpecOf<Name extends string> {
  flags: string;
  description: string;
  commands: readonly Name[];
}

/** Adds one subcommand of `parent` per name, each with the flags its specs give it. */
export function addSubcommands<Name extends string, Flags>(
  parent: Command,
  names: readonly Name[],
  descriptions: Readonly<Record<Name, string>>,
  specs: ReadonlyArray<OptionSpecOf<Name>>,
  action: (name: Name, flags: Flags) => Promise<void>,
): void {
  for (const name of names) {
    const command = parent.command(name).description(descriptions[name]);
    for (const spec of specs) {
      if (spec.commands.includes(name)) command.option(spec.flags, spec.description);
    }
    command.action((flags: Flags) => action(name, flags));
  }
}

const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;

function writeAndWait(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => {
    stream.write(text, () => resolve());
  });
}

/** The options `parse` returns; on RobustMQError, its code and message and exit status 2. */
export function parseOrExit<T>(parse: () => T): T {
  try {
    return parse();
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

export interface RunCommand<S> {
  json: boolean;
  run(io: BenchIo): Promise<S>;
  format(summary: S): string;
  verdict(summary: S): ExitVerdict;
}

/** Runs, prints the summary and the verdict, and exits with the verdict's status. */
export async function runAndExit<S>(command: RunCommand<S>): Promise<void> {
  const progress = process.stderr.isTTY
    ? (line: string) => process.stderr.write(`${line}\n`)
    : null;
  const summary = await command.run({ progress, interrupted: interruptSignal() });
  const text = command.json ? `${JSON.stringify(summary)}\n` : command.format(summary);
  await writeAndWait(process.stdout, text);
  const outcome = command.verdict(summary);
  if (outcome.code !== null) {
    await writeAndWait(process.stderr, `error ${outcome.code}: ${outcome.message}\n`);
  }
  process.exit(outcome.exitCode);
}
