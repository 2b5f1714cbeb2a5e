/**
 * One SASL step as both framings run it: in a SaslAuthenticate request (KIP-152), or as a raw
 * token after SaslHandshake v0 (clients before Kafka 1.0, kafka-python 2.0 among them). Logs the
 * outcome and, after a refusal, waits as Kafka's connection.failed.authentication.delay.ms does.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../../log/logger.ts";
import type { SaslSession, StepResult } from "./sasl-session.ts";

/** Slows password guessing over many connections; Kafka's default is 100 ms too. */
const FAILED_AUTHENTICATION_DELAY_MS = 100;

export interface StepCaller {
  readonly logger: Logger;
  readonly remote: string;
  readonly clientId: string | null;
  readonly ip: string;
  /** Aborted when the connection closes: the delay ends early. */
  readonly signal: AbortSignal;
  /** A refusal: the connection reads nothing more, and closes once it has answered. */
  closeAfterAnswer(): void;
}

export async function runSaslStep(
  sasl: SaslSession,
  token: Buffer,
  caller: StepCaller,
): Promise<StepResult> {
  const { logger } = caller;
  const step = await sasl.authenticate(token, { clientId: caller.clientId ?? "", ip: caller.ip });
  const fields = { remote: caller.remote, clientId: caller.clientId, mechanism: sasl.mechanism };
  if (step.principal !== undefined) {
    logger.debug({ ...fields, username: step.principal }, "Kafka client authenticated");
  }
  if (step.busy === true) {
    logger.info(
      { ...fields, username: step.username },
      "Kafka authentication deferred: password checks busy; closed for the client to retry",
    );
  } else if (step.close) {
    caller.closeAfterAnswer();
    const reason = step.logReason ?? step.errorMessage;
    logger.info(
      { ...fields, username: step.username, reason },
      `Kafka authentication failed: ${reason}`,
    );
    await sleep(FAILED_AUTHENTICATION_DELAY_MS, undefined, { signal: caller.signal }).catch(
      () => {},
    );
  }
  return step;
}
