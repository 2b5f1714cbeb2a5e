/**
 * HTTP authentication: each CONNECT's credentials are POSTed to an external service, which
 * answers in EMQX's format: 200 with {"result": "allow" | "deny" | "ignore", "is_superuser"},
 * or 204 for allow. A 4xx answer denies. A service that is down, slow (timeout_ms), failing
 * (5xx) or talking nonsense is not a "no": the answer is "ignore" with a warning, and the
 * chain decides (a later authenticator, or the final refusal).
 *
 * Allow and deny answers are cached for cache_ttl_ms, so a reconnect storm does not become a
 * request storm; identical checks already under way share one request.
 */
import { createHash } from "node:crypto";
import type { Config } from "../../config/schema.ts";
import { assert, ErrorCode, RobustMQError } from "../../errors.ts";
import type { Logger } from "../../log/logger.ts";
import type { Authenticator, AuthnResult, Credentials } from "../types.ts";

export type HttpAuthOptions = Config["mqtt_auth_http"];

/** Distinct requests under way at once; beyond it a check is ignored as "server busy". */
export const HTTP_CALLS_IN_FLIGHT_MAX = 1024;
/** A longer answer body is not an answer in EMQX's format; reading stops there. */
export const HTTP_RESPONSE_BYTES_MAX = 64 * 1024;

const HTTP_STATUS_NO_CONTENT = 204;

interface CacheEntry {
  readonly result: AuthnResult;
  readonly expiresAtMs: number;
}

export class HttpAuthenticator implements Authenticator {
  readonly name = "http" as const;
  readonly #options: HttpAuthOptions;
  readonly #logger: Logger;
  readonly #nowMs: () => number;
  readonly #headers: Readonly<Record<string, string>>;
  /** Keyed by the credentials' digest, oldest first. */
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inFlight = new Map<string, Promise<AuthnResult>>();

  /**
   * Throws RMQ_ERR_CONFIG_INVALID when `url` is empty. `nowMs` is the clock of the cache
   * (tests pass their own).
   */
  constructor(options: HttpAuthOptions, logger: Logger, nowMs: () => number = Date.now) {
    if (options.url === "") {
      throw new RobustMQError(
        ErrorCode.CONFIG_INVALID,
        '[mqtt_auth_http] url is not set: the "http" authenticator needs the service\'s URL',
      );
    }
    assert(options.timeout_ms > 0 && options.cache_max_entries > 0, "limits validated by schema");
    this.#options = options;
    this.#logger = logger;
    this.#nowMs = nowMs;
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (options.authorization !== "") headers.authorization = options.authorization;
    this.#headers = headers;
  }

  authenticate(credentials: Credentials): Promise<AuthnResult> {
    const key = digestOf(credentials);
    const cached = this.#cached(key);
    if (cached !== undefined) return Promise.resolve(cached);
    const running = this.#inFlight.get(key);
    if (running !== undefined) return running;
    if (this.#inFlight.size >= HTTP_CALLS_IN_FLIGHT_MAX) {
      this.#logger.warn(
        { url: this.#options.url, inFlight: this.#inFlight.size },
        "HTTP authentication: too many requests under way; credentials ignored",
      );
      return Promise.resolve({ result: "ignore", reason: "server busy" });
    }
    const call = this.#call(credentials).then((result) => {
      this.#remember(key, result);
      return result;
    });
    const shared = call.finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, shared);
    assert(this.#inFlight.size <= HTTP_CALLS_IN_FLIGHT_MAX, "in-flight calls over their bound");
    return shared;
  }

  /** Cached answers (for tests and metrics). */
  get cacheSize(): number {
    return this.#cache.size;
  }

  /** One request; never throws: every failure becomes "ignore" with a warning. */
  async #call(credentials: Credentials): Promise<AuthnResult> {
    const { url, timeout_ms } = this.#options;
    const body = JSON.stringify({
      clientid: credentials.clientId,
      username: credentials.username ?? "",
      password: credentials.password?.toString("utf8") ?? "",
      peerhost: credentials.ip,
    });
    let response: Response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: this.#headers,
        body,
        // A redirect would carry the password elsewhere (307/308 resend the body): not taken.
        redirect: "manual",
        signal: AbortSignal.timeout(timeout_ms),
      });
    } catch (err) {
      return this.#ignore({ err: describeFetchError(err) }, "the service did not answer");
    }
    const status = response.status;
    if (status === HTTP_STATUS_NO_CONTENT) {
      await discard(response);
      return { result: "allow", superuser: false };
    }
    if (status >= 400 && status < 500) {
      await discard(response);
      return { result: "deny", reason: `the HTTP service answered ${status}` };
    }
    if (status < 200 || status >= 300) {
      await discard(response);
      return this.#ignore({ status }, "the service failed");
    }
    let text: string | null;
    try {
      text = await readLimited(response, HTTP_RESPONSE_BYTES_MAX);
    } catch (err) {
      return this.#ignore({ status, err: describeFetchError(err) }, "reading the answer failed");
    }
    const answer = text === null ? null : parseAnswer(text);
    if (answer === null)
      return this.#ignore({ status }, "the answer is not in the expected format");
    return answer;
  }

  #ignore(fields: Record<string, unknown>, what: string): AuthnResult {
    this.#logger.warn(
      { url: this.#options.url, ...fields },
      `HTTP authentication: ${what}; credentials ignored`,
    );
    return { result: "ignore", reason: `HTTP service: ${what}` };
  }

  #cached(key: string): AuthnResult | undefined {
    const entry = this.#cache.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs > this.#nowMs()) return entry.result;
    this.#cache.delete(key);
    return undefined;
  }

  /** Keeps allow and deny answers; "ignore" means the service had no opinion, or failed. */
  #remember(key: string, result: AuthnResult): void {
    const { cache_ttl_ms, cache_max_entries } = this.#options;
    if (cache_ttl_ms === 0 || result.result === "ignore") return;
    this.#cache.delete(key);
    while (this.#cache.size >= cache_max_entries) {
      const oldest = this.#cache.keys().next().value as string;
      this.#cache.delete(oldest);
    }
    this.#cache.set(key, { result, expiresAtMs: this.#nowMs() + cache_ttl_ms });
    assert(this.#cache.size <= cache_max_entries, "HTTP auth cache over its bound");
  }
}

/** SHA-256 of the four fields, each length-prefixed (and absent told apart from empty). */
function digestOf(credentials: Credentials): string {
  const digest = createHash("sha256");
  const parts: Array<Buffer | undefined> = [
    Buffer.from(credentials.clientId, "utf8"),
    credentials.username === undefined ? undefined : Buffer.from(credentials.username, "utf8"),
    credentials.password,
    Buffer.from(credentials.ip, "utf8"),
  ];
  for (const part of parts) {
    const header = Buffer.alloc(5);
    header.writeUInt8(part === undefined ? 0 : 1, 0);
    header.writeUInt32BE(part?.length ?? 0, 1);
    digest.update(header);
    if (part !== undefined) digest.update(part);
  }
  return digest.digest("base64");
}

/** {"result": "allow" | "deny" | "ignore", "is_superuser"?: boolean}, or null. */
export function parseAnswer(text: string): AuthnResult | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return null;
  const { result, is_superuser } = parsed as { result?: unknown; is_superuser?: unknown };
  if (is_superuser !== undefined && typeof is_superuser !== "boolean") return null;
  if (result === "allow") return { result: "allow", superuser: is_superuser === true };
  if (result === "deny") return { result: "deny", reason: "denied by the HTTP service" };
  if (result === "ignore") return { result: "ignore", reason: "the HTTP service ignored it" };
  return null;
}

/** The body as UTF-8, or null when it is longer than `bytesMax`. */
async function readLimited(response: Response, bytesMax: number): Promise<string | null> {
  if (response.body === null) return "";
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body) {
    total += chunk.byteLength;
    // Leaving the loop early cancels the stream (the iterator's return()).
    if (total > bytesMax) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Lets the connection go back to the pool without reading a body nobody needs. */
async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => {});
}

/** "timeout", or fetch's "fetch failed" with the socket error under it (ECONNREFUSED). */
function describeFetchError(err: unknown): string {
  if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")) {
    return "timeout";
  }
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  const code = typeof cause?.code === "string" ? ` (${cause.code})` : "";
  return `${err instanceof Error ? err.message : String(err)}${code}`;
}
