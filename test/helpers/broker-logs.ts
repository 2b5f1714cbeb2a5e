/** Waiting on the broker's log lines: how a test learns the broker has handled an event. */
import type { BrokerProcess, LogLine } from "./broker-process.ts";

/**
 * Resolves with the first line matching `match` that is written after this call; lines already
 * seen are ignored, so the same event can be awaited again for the same client. Call it before
 * the action that causes the line. Rejects after `timeoutMs`.
 */
export function nextLog(
  broker: BrokerProcess,
  match: (line: LogLine) => boolean,
  timeoutMs = 5000,
): Promise<LogLine> {
  const from = broker.logs.length;
  return broker.waitForLog((line) => match(line) && broker.logs.indexOf(line) >= from, timeoutMs);
}

/** The broker's debug line for a client whose connection has closed (for any reason). */
export function clientGone(
  broker: BrokerProcess,
  clientId: string,
  timeoutMs = 5000,
): Promise<LogLine> {
  return nextLog(
    broker,
    (line) => line.msg === "client disconnected" && line.clientId === clientId,
    timeoutMs,
  );
}
