/**
 * `robustmq ctl delayed list|delete`: delayed messages (`$delayed/{seconds}/{topic}`) waiting
 * to be published, through the admin API (docs/ctl.md).
 */
import type { Command } from "commander";
import { action, addPaging } from "./actions.ts";
import type { JsonObject } from "./client.ts";
import { type Column, renderObject, renderPage, text } from "./output.ts";

function col(header: string, key: string): Column {
  return { header, cell: (item: JsonObject) => text(item[key]) };
}

/** Milliseconds since the epoch as an ISO time, as other lists show times. */
function time(header: string, key: string): Column {
  return {
    header,
    cell: (item: JsonObject) => {
      const ms = item[key];
      return typeof ms === "number" ? new Date(ms).toISOString() : text(ms);
    },
  };
}

export const DELAYED_COLUMNS: readonly Column[] = [
  col("ID", "id"),
  col("TOPIC", "topic"),
  col("QOS", "qos"),
  col("RETAIN", "retain"),
  col("BYTES", "payloadBytes"),
  col("FROM", "clientId"),
  time("PUBLISHED AT", "publishedAtMs"),
  time("DUE AT", "dueAtMs"),
];

interface ListFlags {
  clientId?: string;
  topic?: string;
  limit?: number;
  offset?: number;
}

export function registerDelayedCommands(ctl: Command): void {
  const delayed = ctl
    .command("delayed")
    .description("delayed messages ($delayed/<seconds>/<topic>) waiting to be published");
  const list = addPaging(
    delayed
      .command("list")
      .description("list waiting delayed messages, earliest due first")
      .option("--client-id <id>", "only those this client published")
      .option("--topic <topic>", "only those for this target topic (exact)"),
  );
  list.action(
    action(
      (client) => {
        const { clientId, topic, limit, offset } = list.opts<ListFlags>();
        return client.get("/api/v1/delayed", { clientId, topic, limit, offset });
      },
      (body) => renderPage(body, DELAYED_COLUMNS),
    ),
  );
  delayed
    .command("delete <id>")
    .description("delete a waiting delayed message (it is never published)")
    .action(
      action(
        (client, id: string) => client.delete(`/api/v1/delayed/${encodeURIComponent(id)}`),
        renderObject,
      ),
    );
}
