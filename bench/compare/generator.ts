/**
 * The load generator of the comparison: `robustmq bench mqtt <command> ... --json`, the same
 * program with the same flags for every broker (docs/bench.md). It runs as a child process
 * through withFileLimit, so it may hold as many sockets as the broker. Its JSON summary is the
 * measurement; its exit status 1 only means that the summary lists errors.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import type { BenchSummary } from "../../src/bench/summary.ts";
import { assert } from "../../src/errors.ts";
import { ROOT, withFileLimit } from "./brokers.ts";

export type { BenchSummary };

/** Beyond the generator's own phase deadlines (docs/bench.md): the run is killed after this. */
const GENERATOR_SLACK_MS = 90_000;
const STDERR_CHARS_KEPT = 2_000;

export interface GeneratorRun {
  summary: BenchSummary;
  /** The generator's process id while it runs (for nothing but logs). */
  argv: string[];
}

/**
 * Runs `robustmq bench mqtt ARGS --json` and returns its summary. `durationSeconds` is the
 * -d given in ARGS; it bounds how long the generator may take. Rejects when no summary came.
 */
export async function runGenerator(
  args: readonly string[],
  durationSeconds: number,
): Promise<GeneratorRun> {
  assert(durationSeconds > 0, "every run is bounded in time");
  assert(!args.includes("--json"), "--json is added here");
  const argv = [join(ROOT, "src/cli/main.ts"), "bench", "mqtt", ...args, "--json"];
  const [shell, shellArgs] = withFileLimit(process.execPath, argv);
  const child = spawn(shell, shellArgs, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_CHARS_KEPT);
  });
  const timeoutMs = durationSeconds * 1000 + GENERATOR_SLACK_MS;
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const exitCode = await new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "?")),
  );
  clearTimeout(timer);
  const line = stdout.trim().split("\n").at(-1) ?? "";
  if (!line.startsWith("{")) {
    const why = stderr.trim().split("\n").slice(-3).join(" | ");
    throw new Error(`bench mqtt ${args[0]} gave no summary (exit ${exitCode}): ${why}`);
  }
  const summary = JSON.parse(line) as BenchSummary;
  assert(summary.command === args[0], "the summary is of the command that was run");
  return { summary, argv: ["robustmq", "bench", "mqtt", ...args] };
}

/** The top error kinds of a run, for notes: "connect:timeout 3, lost:closed 1". */
export function errorText(summary: BenchSummary, count = 3): string {
  return Object.entries(summary.errors)
    .slice(0, count)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(", ");
}
