/**
 * The flags both load generators take with the same meaning and limits: host, --count with the
 * --duration default it implies, --connect-timeout and --workers. Each reads one flag with the
 * caller's FlagReader, so problems stay in the order the caller reads its flags.
 */
import {
  CONNECT_TIMEOUT_SECONDS_DEFAULT,
  CONNECT_TIMEOUT_SECONDS_MAX,
  DURATION_SECONDS_DEFAULT,
  DURATION_SECONDS_MAX,
  DURATION_WITH_COUNT_SECONDS_DEFAULT,
  WORKERS_MAX,
} from "../limits.ts";
import type { FlagReader } from "../option-reader.ts";

export function readHost(reader: FlagReader, raw: string | undefined): string {
  const host = raw ?? "127.0.0.1";
  if (host.trim() === "") reader.problem("--host", raw, "must be a host name or address");
  return host;
}

/** `--count`; null when not given. */
export function readCount(reader: FlagReader, raw: string | undefined): number | null {
  return raw === undefined ? null : reader.integer("--count", raw, 1, Number.MAX_SAFE_INTEGER, 1);
}

/** `--duration` in milliseconds; with a --count it is a safety limit, so its default is longer. */
export function readDurationMs(
  reader: FlagReader,
  raw: string | undefined,
  count: number | null,
): number {
  const fallback = count === null ? DURATION_SECONDS_DEFAULT : DURATION_WITH_COUNT_SECONDS_DEFAULT;
  return (
    reader.decimal("--duration", raw, 0.001, DURATION_SECONDS_MAX, fallback, " (seconds)") * 1000
  );
}

export function readConnectTimeoutMs(reader: FlagReader, raw: string | undefined): number {
  return (
    reader.decimal(
      "--connect-timeout",
      raw,
      0.001,
      CONNECT_TIMEOUT_SECONDS_MAX,
      CONNECT_TIMEOUT_SECONDS_DEFAULT,
      " (seconds)",
    ) * 1000
  );
}

/** `--workers`, by default one per CPU; never more than `clients`. */
export function readWorkers(
  reader: FlagReader,
  raw: string | undefined,
  cpuCount: number,
  clients: number,
): number {
  const fallback = Math.max(1, Math.min(cpuCount, clients, WORKERS_MAX));
  const workers = reader.integer("--workers", raw, 1, WORKERS_MAX, fallback);
  // More workers than clients would leave some idle: cap silently, as the default does.
  return Math.max(1, Math.min(workers, clients));
}
