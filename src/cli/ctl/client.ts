/**
 * A small client of the admin HTTP API for `robustmq ctl`: one request at a time, a bounded
 * wait, and errors that say what to do (server unreachable, 401, the API's own message).
 */
import { ErrorCode, RobustMQError } from "../../errors.ts";

/** How long one request may take before ctl gives up. */
export const CTL_REQUEST_TIMEOUT_MS = 10_000;

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface Credentials {
  token?: string;
  username?: string;
  password?: string;
}

const LOGIN_HINT = "log in with --username/--password or pass --token (or set ROBUSTMQ_TOKEN)";

export class AdminClient {
  readonly server: string;
  #token: string | undefined;

  constructor(server: string, token?: string) {
    this.server = server.replace(/\/+$/, "");
    this.#token = token;
  }

  /** Exchanges a user name and password for a token used by later requests. */
  async login(username: string, password: string): Promise<void> {
    const body = await this.#send("POST", "/api/v1/login", { username, password }, true);
    const token = (body as JsonObject).token;
    if (typeof token !== "string") throw requestFailed("login answered without a token");
    this.#token = token;
  }

  get(path: string, query: Record<string, string | number | boolean | undefined> = {}) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) params.set(key, String(value));
    }
    const search = params.size === 0 ? "" : `?${params.toString()}`;
    return this.#send("GET", `${path}${search}`, undefined, false);
  }

  delete(path: string): Promise<Json> {
    return this.#send("DELETE", path, undefined, false);
  }

  post(path: string, body: JsonObject): Promise<Json> {
    return this.#send("POST", path, body, false);
  }

  put(path: string, body: JsonObject): Promise<Json> {
    return this.#send("PUT", path, body, false);
  }

  async #send(method: string, path: string, body: Json | undefined, isLogin: boolean) {
    const headers: Record<string, string> = {};
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(`${this.server}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(CTL_REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      throw unreachable(this.server, err);
    }
    const text = await response.text();
    const parsed = parseJson(text);
    if (response.ok) return parsed;
    throw apiError(response.status, parsed, text, isLogin);
  }
}

function parseJson(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return null;
  }
}

function unreachable(server: string, err: unknown): RobustMQError {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  const why = cause instanceof Error ? cause.message : String(cause);
  const timedOut = err instanceof Error && err.name === "TimeoutError";
  const detail = timedOut ? `no answer within ${CTL_REQUEST_TIMEOUT_MS} ms` : why;
  return new RobustMQError(
    ErrorCode.CTL_UNREACHABLE,
    `cannot reach the admin API at ${server} (${detail}); is the node running, and is ` +
      "--server its http_port?",
  );
}

function apiError(status: number, body: Json, text: string, isLogin: boolean): RobustMQError {
  const object = body !== null && typeof body === "object" && !Array.isArray(body) ? body : {};
  const code = typeof object.code === "string" ? `${object.code}: ` : "";
  const message = typeof object.message === "string" ? object.message : text.slice(0, 200);
  let advice = "";
  if (status === 401) advice = isLogin ? "; check --username/--password" : `; ${LOGIN_HINT}`;
  return requestFailed(`the admin API answered ${status} (${code}${message})${advice}`);
}

function requestFailed(message: string): RobustMQError {
  return new RobustMQError(ErrorCode.CTL_REQUEST_FAILED, message);
}

/** Builds the client: --token, else --username/--password (logs in), else ROBUSTMQ_TOKEN. */
export async function connectAdmin(server: string, credentials: Credentials): Promise<AdminClient> {
  if (credentials.token !== undefined) return new AdminClient(server, credentials.token);
  if (credentials.username !== undefined && credentials.password !== undefined) {
    const client = new AdminClient(server);
    await client.login(credentials.username, credentials.password);
    return client;
  }
  const fromEnv = process.env.ROBUSTMQ_TOKEN;
  return new AdminClient(server, fromEnv === undefined || fromEnv === "" ? undefined : fromEnv);
}
