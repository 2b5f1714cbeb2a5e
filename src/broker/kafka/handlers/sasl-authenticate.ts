/**
 * SaslAuthenticate v0-2: one step of the mechanism chosen by SaslHandshake. A refusal is
 * answered SASL_AUTHENTICATION_FAILED (or ILLEGAL_SASL_STATE) with the reason, after a short
 * delay as Kafka's connection.failed.authentication.delay.ms does, and the connection closes.
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import type { ApiHandler, HandlerResult } from "../handler-context.ts";
import { runSaslStep } from "../sasl/sasl-step.ts";

type Result = HandlerResult<typeof ApiKey.SaslAuthenticate>;

export const saslAuthenticateHandler: ApiHandler<typeof ApiKey.SaslAuthenticate> = {
  apiKey: ApiKey.SaslAuthenticate,
  minVersion: 0,
  maxVersion: 2,
  async handle(context, request): Promise<Result> {
    const step = await runSaslStep(context.sasl, request.authBytes, {
      logger: context.logger,
      remote: context.remote,
      clientId: context.clientId,
      ip: context.remoteHost,
      signal: context.signal,
      closeAfterAnswer: context.closeAfterAnswer,
    });
    if (step.busy === true) return "close";
    return {
      errorCode: step.errorCode,
      errorMessage: step.errorMessage,
      authBytes: step.authBytes,
      sessionLifetimeMs: 0n,
    };
  },
};
