/**
 * SaslAuthenticate v0-2: one step of the mechanism chosen by SaslHandshake. A refusal is
 * answered SASL_AUTHENTICATION_FAILED (or ILLEGAL_SASL_STATE) with the reason, after a short
 * delay as Kafka's connection.failed.authentication.delay.ms does, and the connection closes.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import type { ApiHandler, HandlerResult } from "../handler-context.ts";

type Result = HandlerResult<typeof ApiKey.SaslAuthenticate>;

/** Slows password guessing over many connections; Kafka's default is 100 ms too. */
export const FAILED_AUTHENTICATION_DELAY_MS = 100;

export const saslAuthenticateHandler: ApiHandler<typeof ApiKey.SaslAuthenticate> = {
  apiKey: ApiKey.SaslAuthenticate,
  minVersion: 0,
  maxVersion: 2,
  async handle(context, request): Promise<Result> {
    const { sasl, logger } = context;
    const mechanism = sasl.mechanism;
    const step = await sasl.authenticate(request.authBytes, {
      clientId: context.clientId ?? "",
      ip: context.remoteHost,
    });
    const fields = { remote: context.remote, clientId: context.clientId, mechanism };
    if (step.principal !== undefined) {
      logger.debug({ ...fields, username: step.principal }, "Kafka client authenticated");
    }
    if (step.busy === true) {
      logger.info(
        { ...fields, username: step.username },
        "Kafka authentication deferred: password checks busy; closed for the client to retry",
      );
      return "close";
    }
    if (step.close) {
      context.closeAfterAnswer();
      const reason = step.logReason ?? step.errorMessage;
      logger.info(
        { ...fields, username: step.username, reason },
        `Kafka authentication failed: ${reason}`,
      );
      await sleep(FAILED_AUTHENTICATION_DELAY_MS, undefined, { signal: context.signal }).catch(
        () => {},
      );
    }
    return {
      errorCode: step.errorCode,
      errorMessage: step.errorMessage,
      authBytes: step.authBytes,
      sessionLifetimeMs: 0n,
    };
  },
};
