/**
 * Reads flag values typed on the command line, collecting every problem instead of stopping at
 * the first, so one run of the command shows everything to fix. Each problem names the flag, the
 * value typed and what is allowed: `--qos = "3": must be one of 0, 1, 2`.
 */
import { ErrorCode, RobustMQError } from "../errors.ts";

const INTEGER = /^\d+$/;
const DECIMAL = /^\d+(\.\d+)?$/;

export class FlagReader {
  readonly problems: string[] = [];

  problem(flag: string, raw: string | undefined, allowed: string): void {
    this.problems.push(`${flag} = ${JSON.stringify(raw ?? "")}: ${allowed}`);
  }

  /** An integer from `min` to `max`; `fallback` when the flag was not given. */
  integer(
    flag: string,
    raw: string | undefined,
    min: number,
    max: number,
    fallback: number,
    unit = "",
  ): number {
    if (raw === undefined) return fallback;
    const text = raw.trim().replaceAll("_", "");
    const value = Number(text);
    if (!INTEGER.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
      this.problem(flag, raw, `must be an integer from ${min} to ${max}${unit}`);
      return fallback;
    }
    return value;
  }

  /** A number (decimals allowed) from `min` to `max`. */
  decimal(
    flag: string,
    raw: string | undefined,
    min: number,
    max: number,
    fallback: number,
    unit = "",
  ): number {
    if (raw === undefined) return fallback;
    const text = raw.trim();
    const value = Number(text);
    if (!DECIMAL.test(text) || !(value >= min && value <= max)) {
      this.problem(flag, raw, `must be a number from ${min} to ${max}${unit}`);
      return fallback;
    }
    return value;
  }

  /** One of the keys of `choices`, mapped to its value. */
  choice<T>(
    flag: string,
    raw: string | undefined,
    choices: Readonly<Record<string, T>>,
    fallback: T,
  ): T {
    if (raw === undefined) return fallback;
    const key = raw.trim();
    if (Object.hasOwn(choices, key)) return choices[key];
    const allowed = Object.keys(choices).join(", ");
    this.problem(flag, raw, `must be one of ${allowed}`);
    return fallback;
  }

  /** A text the `check` function accepts (it returns null, or what is wrong). */
  pattern(
    flag: string,
    raw: string | undefined,
    fallback: string,
    check: (text: string) => string | null,
  ): string {
    if (raw === undefined) return fallback;
    const problem = check(raw);
    if (problem === null) return raw;
    this.problem(flag, raw, problem);
    return fallback;
  }

  /** Throws RMQ_ERR_BENCH_INVALID_OPTION with every problem, if there are any. */
  throwIfProblems(): void {
    if (this.problems.length === 0) return;
    const message =
      this.problems.length === 1
        ? `invalid option: ${this.problems[0]}`
        : `invalid options, ${this.problems.length} problems:\n${this.problems.map((p) => `  - ${p}`).join("\n")}`;
    throw new RobustMQError(ErrorCode.BENCH_INVALID_OPTION, message);
  }
}
