/**
 * `robustmq ctl slow-subs|alarms|schema-validation ...`: slow-subscription statistics, system
 * alarms and payload schema rules through the admin API (docs/ctl.md). A feature that is off
 * prints a line saying which config key turns it on.
 */
import type { Command } from "commander";
import { action } from "./actions.ts";
import type { Json, JsonObject } from "./client.ts";
import { type Column, renderTable, text } from "./output.ts";

function col(header: string, key: string): Column {
  return { header, cell: (item: JsonObject) => text(item[key]) };
}

const SLOW_SUB_COLUMNS: readonly Column[] = [
  col("CLIENT ID", "clientId"),
  col("TOPIC", "topic"),
  col("LATENCY (MS)", "latencyMs"),
  col("MAX (MS)", "latencyMsMax"),
  col("COUNT", "count"),
  col("LAST SEEN", "lastSeenAt"),
];

const ALARM_COLUMNS: readonly Column[] = [
  col("NAME", "name"),
  col("ACTIVATED AT", "activatedAt"),
  col("DEACTIVATED AT", "deactivatedAt"),
  { header: "MESSAGE", cell: (item) => String(item.message ?? "") },
];

const SCHEMA_RULE_COLUMNS: readonly Column[] = [
  col("#", "index"),
  col("TOPIC FILTER", "topic"),
  col("SOURCE", "source"),
  col("SCHEMA FILE", "schemaFile"),
];

function table(rows: Json | undefined, columns: readonly Column[]): string {
  const list = (rows ?? []) as JsonObject[];
  return list.length === 0 ? "(none)\n" : renderTable(list, columns);
}

function renderSlowSubs(body: Json): string {
  const reply = body as JsonObject;
  if (reply.enabled !== true)
    return "slow subscription statistics are off ([mqtt_slow_subs] enable)\n";
  const header = `threshold ${text(reply.thresholdMs)} ms, top ${text(reply.topK)}\n`;
  return header + table(reply.data, SLOW_SUB_COLUMNS);
}

function renderAlarms(body: Json): string {
  const reply = body as JsonObject;
  if (reply.enabled !== true) return "alarms are off ([mqtt_alarms] enable)\n";
  const marks = (reply.watermarks ?? {}) as JsonObject;
  const watermarks = Object.entries(marks)
    .map(([key, value]) => `${key}=${text(value)}`)
    .join(" ");
  return (
    `watermarks: ${watermarks}\nactive:\n${table(reply.active, ALARM_COLUMNS)}` +
    `history (newest first):\n${table(reply.history, ALARM_COLUMNS)}`
  );
}

function renderSchemaRules(body: Json): string {
  const reply = body as JsonObject;
  if (reply.enabled !== true)
    return "no schema validation rules ([mqtt_schema_validation] rules)\n";
  return table(reply.rules, SCHEMA_RULE_COLUMNS);
}

/** Adds `slow-subs`, `alarms` and `schema-validation` to `robustmq ctl`. */
export function registerObservabilityCommands(ctl: Command): void {
  const slow = ctl.command("slow-subs").description("slow subscription statistics");
  slow
    .command("list")
    .description("the slowest (client id, topic) pairs above the threshold, slowest first")
    .action(action((client) => client.get("/api/v1/slow-subscriptions"), renderSlowSubs));
  slow
    .command("clear")
    .description("forget every recorded slow subscription")
    .action(
      action(
        (client) => client.delete("/api/v1/slow-subscriptions"),
        (body) => `cleared ${text((body as JsonObject).cleared)}\n`,
      ),
    );
  ctl
    .command("alarms")
    .description("system alarms (memory, CPU)")
    .command("list")
    .description("active alarms, recent deactivated ones and the watermarks")
    .action(action((client) => client.get("/api/v1/alarms"), renderAlarms));
  ctl
    .command("schema-validation")
    .description("payload JSON Schema validation")
    .command("list")
    .description("the rules, in the order they are tried")
    .action(action((client) => client.get("/api/v1/schema-validation"), renderSchemaRules));
}
