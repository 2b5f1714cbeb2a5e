/**
 * Process logging on pino: one JSON object per line for machines (the default off a terminal),
 * or pino-pretty's coloured lines for a person at a terminal.
 *
 * Both formats write synchronously to the destination. Logging is for lifecycle events and
 * errors, not per-packet work, so the cost is small; in exchange the fatal line written just
 * before process.exit() is never lost.
 */
import { type DestinationStream, type Logger as PinoLogger, pino } from "pino";
import { prettyFactory } from "pino-pretty";
import { assert } from "../errors.ts";

export type Logger = PinoLogger;
export type LogFormatOption = "auto" | "json" | "pretty";

export interface CreateLoggerOptions {
  /** One of pino's levels: trace, debug, info, warn, error, fatal (or silent). */
  level: string;
  format: LogFormatOption;
  /** Where lines go; standard output when absent. */
  destination?: DestinationStream;
  /**
   * Whether the destination is a terminal, which picks the format for "auto" and turns on
   * colours. Defaults to process.stdout.isTTY when writing to standard output, else false.
   */
  isTTY?: boolean;
}

/** "auto" means pretty for a person at a terminal, JSON for a file, pipe or log collector. */
export function resolveLogFormat(format: LogFormatOption, isTTY: boolean): "json" | "pretty" {
  if (format === "auto") return isTTY ? "pretty" : "json";
  return format;
}

export function createLogger(opts: CreateLoggerOptions): Logger {
  assert(
    opts.level in pino.levels.values || opts.level === "silent",
    `unknown log level ${opts.level}`,
  );
  const toStdout = opts.destination === undefined;
  const isTTY = opts.isTTY ?? (toStdout && process.stdout.isTTY === true);
  const destination = opts.destination ?? pino.destination({ fd: 1, sync: true });
  const format = resolveLogFormat(opts.format, isTTY);
  const stream = format === "pretty" ? prettyStream(destination, isTTY) : destination;
  return pino(
    {
      level: opts.level,
      // ISO time and level names rather than epoch ms and numbers: operators read these lines
      // and log collectors parse both equally well.
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
}

/** Formats each JSON line in the caller's thread (no transport worker), keeping writes sync. */
function prettyStream(destination: DestinationStream, isTTY: boolean): DestinationStream {
  const noColor = process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== "";
  const prettify = prettyFactory({
    colorize: isTTY && !noColor,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "pid,hostname",
  });
  return {
    write(line: string): void {
      destination.write(prettify(line));
    },
  };
}
