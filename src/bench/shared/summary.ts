/**
 * Arithmetic and verdict rules the summaries of both load generators share. Pure.
 */
import { ErrorCode, type ErrorCodeValue } from "../../errors.ts";

export function perSecond(count: number, seconds: number): number {
  return seconds > 0 ? Math.round((count / seconds) * 10) / 10 : 0;
}

/** The span between two timestamps (microseconds since the epoch, 0 = never), in seconds. */
export function seconds(fromMicros: number, toMicros: number): number {
  return fromMicros > 0 && toMicros > fromMicros ? (toMicros - fromMicros) / 1e6 : 0;
}

/** To the millisecond, so that --json does not print float noise. */
export function rounded(value: number): number {
  return Math.round(value * 1000) / 1000;
}

export function errorTotal(errors: ReadonlyMap<string, number>): number {
  return [...errors.values()].reduce((sum, count) => sum + count, 0);
}

/** Errors by kind, most frequent first. */
export function sortedErrors(errors: ReadonlyMap<string, number>): Record<string, number> {
  return Object.fromEntries([...errors].sort((a, b) => b[1] - a[1]));
}

/** Exit status 0 for a run without errors; else 1, with the code and a one-line reason. */
export interface ExitVerdict {
  exitCode: 0 | 1;
  code: ErrorCodeValue | null;
  message: string | null;
}

interface VerdictInput {
  ok: boolean;
  errorCount: number;
  errors: Record<string, number>;
}

/**
 * A connect failure when `connectFailure` gives a reason for one (called with the most frequent
 * errors), else a run failure.
 */
export function verdictOf(
  summary: VerdictInput,
  connectFailure: (topErrors: string) => string | null,
): ExitVerdict {
  if (summary.ok) return { exitCode: 0, code: null, message: null };
  const top = Object.entries(summary.errors)
    .slice(0, 3)
    .map(([kind, count]) => `${kind} ${count}`)
    .join(", ");
  const connectMessage = connectFailure(top);
  if (connectMessage !== null) {
    return { exitCode: 1, code: ErrorCode.BENCH_CONNECT_FAILED, message: connectMessage };
  }
  return {
    exitCode: 1,
    code: ErrorCode.BENCH_RUN_FAILED,
    message: `${summary.errorCount} errors during the run (${top})`,
  };
}
