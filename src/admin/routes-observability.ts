/**
 * Admin routes for slow-subscription statistics, system alarms and payload schema validation
 * (docs/mqtt.md). Registered whenever the node runs the broker; a feature that is off answers
 * with `enabled: false` and nothing in it, so a client need not know the config.
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import { WATERMARK_KEYS, type Watermarks } from "../broker/mqtt/alarms/monitor.ts";
import { alarmView } from "../broker/mqtt/alarms.ts";
import type { MqttBroker } from "../broker/mqtt/broker.ts";
import type { SlowSubEntry } from "../broker/mqtt/slow-subs.ts";
import { ErrorCode } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import { sendError } from "./http-errors.ts";
import { commonErrors } from "./schemas.ts";

type Schema = Record<string, unknown>;

const str = { type: "string" } as const;
const int = { type: "integer" } as const;
const num = { type: "number" } as const;
const bool = { type: "boolean" } as const;
const nullableStr = { type: ["string", "null"] } as const;

function object(properties: Record<string, Schema>): Schema {
  return {
    type: "object",
    properties,
    required: Object.keys(properties),
    additionalProperties: false,
  };
}

const slowSubSchema = object({
  clientId: str,
  topic: str,
  latencyMs: int,
  latencyMsMax: int,
  count: int,
  lastSeenAt: str,
});

const slowSubsReply = object({
  enabled: bool,
  thresholdMs: int,
  topK: int,
  data: { type: "array", items: slowSubSchema },
});

const alarmSchema = object({
  name: str,
  message: str,
  details: { type: "object", additionalProperties: num },
  activatedAt: str,
  deactivatedAt: nullableStr,
});

const watermarkValue = { type: "number", exclusiveMinimum: 0, maximum: 1 } as const;

const watermarksSchema = object(Object.fromEntries(WATERMARK_KEYS.map((key) => [key, num])));

const alarmsReply = object({
  enabled: bool,
  watermarks: { ...watermarksSchema, type: ["object", "null"] },
  active: { type: "array", items: alarmSchema },
  history: { type: "array", items: alarmSchema },
});

const thresholdsBody = {
  type: "object",
  properties: Object.fromEntries(WATERMARK_KEYS.map((key) => [key, watermarkValue])),
  minProperties: 1,
  additionalProperties: false,
} as const;

const schemaRulesReply = object({
  enabled: bool,
  rules: {
    type: "array",
    items: object({ index: int, topic: str, source: str, schemaFile: nullableStr }),
  },
});

function slowSubReply(entry: SlowSubEntry) {
  return {
    clientId: entry.clientId,
    topic: entry.topic,
    latencyMs: entry.latencyMs,
    latencyMsMax: entry.latencyMsMax,
    count: entry.count,
    lastSeenAt: new Date(entry.lastSeenMs).toISOString(),
  };
}

export function registerObservabilityRoutes(
  app: FastifyInstance,
  broker: MqttBroker,
  logger: Logger,
): void {
  registerSlowSubs(app, broker, logger);
  registerAlarms(app, broker);
  app.get(
    "/schema-validation",
    {
      schema: {
        summary: "Payload schema validation rules, in the order they are tried",
        tags: ["mqtt"],
        response: { 200: schemaRulesReply, ...commonErrors },
      },
    },
    async () => {
      const rules = broker.schemaValidation?.rules ?? [];
      return {
        enabled: rules.length > 0,
        rules: rules.map((rule, index) => ({
          index,
          topic: rule.filter,
          source: rule.schemaFile === null ? "inline" : "file",
          schemaFile: rule.schemaFile,
        })),
      };
    },
  );
}

function registerSlowSubs(app: FastifyInstance, broker: MqttBroker, logger: Logger): void {
  app.get(
    "/slow-subscriptions",
    {
      schema: {
        summary: "The slowest (client id, topic) pairs above the threshold, slowest first",
        tags: ["mqtt"],
        response: { 200: slowSubsReply, ...commonErrors },
      },
    },
    async () => {
      const slow = broker.slowSubs;
      const options = slow?.table.options;
      return {
        enabled: slow !== null,
        thresholdMs: options?.thresholdMs ?? broker.config.mqtt_slow_subs.threshold_ms,
        topK: options?.topK ?? broker.config.mqtt_slow_subs.top_k,
        data: slow === null ? [] : slow.table.list(Date.now()).map(slowSubReply),
      };
    },
  );
  app.delete(
    "/slow-subscriptions",
    {
      schema: {
        summary: "Forget every recorded slow subscription",
        tags: ["mqtt"],
        response: { 200: object({ cleared: int }), ...commonErrors },
      },
    },
    async () => {
      const table = broker.slowSubs?.table;
      const cleared = table?.size ?? 0;
      table?.clear();
      logger.info({ cleared }, "slow subscriptions cleared by an administrator");
      return { cleared };
    },
  );
}

function alarmsState(broker: MqttBroker) {
  const alarms = broker.alarms;
  return {
    enabled: alarms !== null,
    watermarks: alarms?.monitor.watermarks ?? null,
    active: alarms === null ? [] : alarms.monitor.active().map(alarmView),
    history: alarms === null ? [] : alarms.monitor.history().map(alarmView),
  };
}

function registerAlarms(app: FastifyInstance, broker: MqttBroker): void {
  app.get(
    "/alarms",
    {
      schema: {
        summary: "Active alarms, the last deactivated ones (newest first) and the watermarks",
        tags: ["mqtt"],
        response: { 200: alarmsReply, ...commonErrors },
      },
    },
    async () => alarmsState(broker),
  );
  app.put<{ Body: Partial<Watermarks> }>(
    "/alarms/thresholds",
    {
      schema: {
        summary: "Change alarm watermarks now (each low below its high); checked at once",
        tags: ["mqtt"],
        body: thresholdsBody,
        response: { 200: alarmsReply, ...commonErrors },
      },
    },
    async (request, reply: FastifyReply) => {
      const alarms = broker.alarms;
      if (alarms === null) {
        const why = "alarms are off ([mqtt_alarms] enable = false)";
        return sendError(reply, 400, ErrorCode.ADMIN_INVALID_REQUEST, why);
      }
      const problem = alarms.setWatermarks(request.body);
      if (problem !== null) return sendError(reply, 400, ErrorCode.ADMIN_INVALID_REQUEST, problem);
      return alarmsState(broker);
    },
  );
}
