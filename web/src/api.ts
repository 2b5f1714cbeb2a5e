/**
 * The admin API client: bearer token in sessionStorage, one error type. A 401 on any call
 * forgets the token and tells the app (LOGGED_OUT_EVENT), which shows the login page.
 */

const TOKEN_KEY = "robustmq.token";
export const LOGGED_OUT_EVENT = "robustmq:logged-out";
/** A request that takes longer than this is reported as the API being unreachable. */
const REQUEST_TIMEOUT_MS = 10_000;

export class ApiError extends Error {
  /** HTTP status, or 0 when the API could not be reached. */
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export interface Page<T> {
  data: T[];
  meta: { total: number; offset: number; limit: number; nextOffset: number | null };
}

export type Query = Record<string, string | number | boolean | undefined>;

export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function logout(reason: string | null): void {
  sessionStorage.removeItem(TOKEN_KEY);
  window.dispatchEvent(new CustomEvent(LOGGED_OUT_EVENT, { detail: reason }));
}

function queryString(query: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return text === "" ? "" : `?${text}`;
}

async function send(method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = {};
  const bearer = token();
  if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  try {
    return await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new ApiError(0, "UNREACHABLE", `the admin API is unreachable (${why})`);
  }
}

async function errorOf(response: Response): Promise<ApiError> {
  let code = "HTTP_ERROR";
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = (await response.json()) as { code?: string; message?: string };
    code = body.code ?? code;
    message = body.message ?? message;
  } catch {
    // Not the API's JSON (a proxy's page, say): keep the status line.
  }
  return new ApiError(response.status, code, message);
}

/** Calls /api/v1<path> (with a JSON body when given); throws ApiError. A 401 also logs out. */
export async function api<T>(
  method: string,
  path: string,
  query: Query = {},
  body?: unknown,
): Promise<T> {
  const response = await send(method, `/api/v1${path}${queryString(query)}`, body);
  if (response.status === 401) {
    logout("your session expired: log in again");
    throw await errorOf(response);
  }
  if (!response.ok) throw await errorOf(response);
  return (await response.json()) as T;
}

/** Exchanges user name and password for a token; throws ApiError (401: wrong credentials). */
export async function login(username: string, password: string): Promise<void> {
  const response = await send("POST", "/api/v1/login", { username, password });
  if (!response.ok) throw await errorOf(response);
  const body = (await response.json()) as { token: string };
  sessionStorage.setItem(TOKEN_KEY, body.token);
}
