/**
 * Every error the admin API answers has the same JSON shape and a stable RMQ_ERR_ADMIN_* code
 * (docs/errors.md): `{ statusCode, code, error, message }`.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { ErrorCode, type ErrorCodeValue, RobustMQError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import { ADMIN_BODY_BYTES_MAX } from "./limits.ts";

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: "Bad Request",
  401: "Unauthorized",
  404: "Not Found",
  409: "Conflict",
  413: "Payload Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  429: "Too Many Requests",
  500: "Internal Server Error",
};

export interface ErrorBody {
  statusCode: number;
  code: ErrorCodeValue;
  error: string;
  message: string;
}

export function errorBody(statusCode: number, code: ErrorBody["code"], message: string): ErrorBody {
  return { statusCode, code, error: STATUS_TEXT[statusCode] ?? "Error", message };
}

export function sendError(
  reply: FastifyReply,
  statusCode: number,
  code: ErrorCodeValue,
  message: string,
): FastifyReply {
  return reply.code(statusCode).send(errorBody(statusCode, code, message));
}

interface SchemaError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

/**
 * Names the failing field: "querystring/limit must be <= 1000", "body/password is required",
 * "querystring/clientid is not allowed". Ajv's own text says "must NOT have additional
 * properties" without saying which.
 */
export function formatSchemaErrors(errors: readonly SchemaError[], dataVar: string): Error {
  const parts = errors.map((e) => {
    let field = `${dataVar}${e.instancePath}`;
    if (e.keyword === "required") return `${field}/${String(e.params.missingProperty)} is required`;
    if (e.keyword === "additionalProperties") {
      field = `${field}/${String(e.params.additionalProperty)}`;
      return `${field} is not allowed`;
    }
    return `${field} ${e.message ?? "is invalid"}`;
  });
  return new Error(parts.join("; "));
}

/** Fastify's own errors for a body it will not parse, by its code. */
const BODY_ERRORS: Readonly<Record<string, [number, ErrorCodeValue]>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, ErrorCode.ADMIN_BODY_TOO_LARGE],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, ErrorCode.ADMIN_INVALID_REQUEST],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, ErrorCode.ADMIN_INVALID_REQUEST],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, ErrorCode.ADMIN_INVALID_REQUEST],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, ErrorCode.ADMIN_INVALID_REQUEST],
};

/** Messages that say more than fastify's own. */
const BODY_MESSAGES: Readonly<Record<string, string>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: `request body is larger than ${ADMIN_BODY_BYTES_MAX} bytes`,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "the request body must be JSON (content-type: application/json)",
};

/**
 * The HTTP status of each coded error a route may throw (the security layer's users, ACL rules
 * and bans throw these for a bad request or an unknown name). Any other code is a 500.
 */
const CODE_STATUS: Readonly<Partial<Record<ErrorCodeValue, number>>> = {
  [ErrorCode.ADMIN_INVALID_REQUEST]: 400,
  [ErrorCode.ADMIN_UNAUTHORIZED]: 401,
  [ErrorCode.ADMIN_NOT_FOUND]: 404,
  [ErrorCode.ADMIN_BODY_TOO_LARGE]: 413,
  [ErrorCode.ADMIN_BUSY]: 429,
};

/** The status a thrown coded error is answered with, or null when it is not a client error. */
export function statusOfCode(code: ErrorCodeValue): number | null {
  return CODE_STATUS[code] ?? null;
}

/**
 * Fastify's routing errors, met before a route is chosen, so before any hook (the token check
 * too): a path parameter that is not percent-encoded UTF-8, or one longer than the router takes.
 * Answered in the API's shape like any invalid request; anything else as the error handler does.
 */
export function makeFrameworkErrorHandler(logger: Logger, paramCharsMax: number) {
  const otherwise = makeErrorHandler(logger);
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    if (error.code === "FST_ERR_BAD_URL") {
      const why = `a path parameter of ${request.url} is not percent-encoded UTF-8`;
      return sendError(reply, 400, ErrorCode.ADMIN_INVALID_REQUEST, why);
    }
    if (error.code === "FST_ERR_MAX_PARAM_LENGTH") {
      // The path is not echoed: it is the over-long part.
      const why = `a path parameter is longer than ${paramCharsMax} characters (percent-encoded)`;
      return sendError(reply, 414, ErrorCode.ADMIN_INVALID_REQUEST, why);
    }
    return otherwise(error, request, reply);
  };
}

export function makeErrorHandler(logger: Logger) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    if (error.validation !== undefined) {
      return sendError(reply, 400, ErrorCode.ADMIN_INVALID_REQUEST, error.message);
    }
    if (error instanceof RobustMQError) {
      const coded = statusOfCode(error.code);
      if (coded !== null) return sendError(reply, coded, error.code, error.message);
    }
    const known = BODY_ERRORS[error.code];
    if (known !== undefined) {
      const message = BODY_MESSAGES[error.code] ?? error.message;
      return sendError(reply, known[0], known[1], message);
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return sendError(reply, status, ErrorCode.ADMIN_INVALID_REQUEST, error.message);
    }
    logger.error({ err: error, url: request.url }, "admin API request failed");
    return reply.code(500).send(errorBody(500, ErrorCode.ADMIN_INTERNAL, "internal error"));
  };
}
