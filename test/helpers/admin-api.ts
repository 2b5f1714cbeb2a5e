/**
 * The admin HTTP API from a test: log in with a known password (set with `[admin] password` in
 * the broker's config) and call routes with the bearer token.
 */
import assert from "node:assert/strict";
import type { BrokerProcess } from "./broker-process.ts";

export interface AdminReply {
  status: number;
  body: Record<string, unknown>;
}

export interface AdminApi {
  readonly base: string;
  call(method: string, path: string, body?: unknown): Promise<AdminReply>;
}

/** `[admin]` config lines that make `adminApi()` able to log in. */
export const ADMIN_PASSWORD = "test-admin-password";
export const ADMIN_CONFIG = `[admin]\npassword = "${ADMIN_PASSWORD}"\n`;

export async function adminApi(broker: BrokerProcess): Promise<AdminApi> {
  const line = await broker.waitForLog((l) => l.listener === "admin", 15_000);
  const base = `http://127.0.0.1:${String(line.address).split(":").pop()}`;
  const send = async (
    method: string,
    path: string,
    token: string | null,
    body?: unknown,
  ): Promise<AdminReply> => {
    const headers: Record<string, string> = {};
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(`${base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text === "" ? {} : JSON.parse(text) };
  };
  const login = await send("POST", "/api/v1/login", null, {
    username: "admin",
    password: ADMIN_PASSWORD,
  });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  const token = String(login.body.token);
  return { base, call: (method, path, body) => send(method, path, token, body) };
}
