/**
 * Admin routes about the node itself: identity and listeners, the effective configuration
 * (secrets redacted) and the OpenAPI document generated from every route's schemas.
 */
import type { FastifyInstance } from "fastify";
import type { Config } from "../config/schema.ts";
import { commonErrors, configSchema, nodeSchema } from "./schemas.ts";
import { robustmqVersion } from "./version.ts";

export interface ListenerInfo {
  host: string;
  port: number;
}

export interface NodeInfo {
  readonly config: Config;
  readonly startedAtMs: number;
  /** Where each listener ended up (read per request: the admin one is known after listen). */
  listeners(): Record<string, ListenerInfo>;
}

const REDACTED = "<redacted>";
/**
 * Keys whose values never leave the node, by section: the admin password, the JWT HMAC secret
 * (anyone holding it can sign tokens for any user) and the header the HTTP authenticator sends.
 */
const SECRET_KEYS: ReadonlyArray<[section: string, key: string]> = [
  ["admin", "password"],
  ["mqtt_auth_jwt", "secret"],
  ["mqtt_auth_http", "authorization"],
];

/** A copy of the configuration with every secret replaced by "<redacted>". */
export function redactConfig(config: Config): Record<string, unknown> {
  const copy = structuredClone(config) as unknown as Record<string, Record<string, unknown>>;
  for (const [section, key] of SECRET_KEYS) {
    const table = copy[section];
    if (table !== undefined && key in table) table[key] = REDACTED;
  }
  return copy;
}

export function uptimeS(startedAtMs: number): number {
  return Math.floor((Date.now() - startedAtMs) / 1000);
}

export function registerNodeRoutes(app: FastifyInstance, node: NodeInfo): void {
  app.get(
    "/node",
    {
      schema: {
        summary: "This node: cluster, broker id, roles, version, uptime and listeners",
        tags: ["node"],
        response: { 200: nodeSchema, ...commonErrors },
      },
    },
    async () => ({
      clusterName: node.config.cluster_name,
      brokerId: node.config.broker_id,
      roles: node.config.roles,
      version: robustmqVersion(),
      startedAt: new Date(node.startedAtMs).toISOString(),
      uptimeS: uptimeS(node.startedAtMs),
      listeners: node.listeners(),
    }),
  );
  app.get(
    "/config",
    {
      schema: {
        summary: "The effective configuration (defaults < file < flags), secrets redacted",
        tags: ["node"],
        response: { 200: configSchema, ...commonErrors },
      },
    },
    async () => redactConfig(node.config),
  );
  app.get(
    "/openapi.json",
    {
      schema: {
        summary: "This API as an OpenAPI 3 document",
        tags: ["node"],
        response: { 200: { type: "object", additionalProperties: true }, ...commonErrors },
      },
    },
    async () => app.swagger(),
  );
}
