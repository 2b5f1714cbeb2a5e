/**
 * `robustmq ctl topics list`: the subscribed topic filters with their subscriber counts and
 * retained flag (GET /api/v1/topics; docs/ctl.md).
 */
import type { Command } from "commander";
import { action, addPaging } from "./actions.ts";
import type { JsonObject } from "./client.ts";
import { type Column, renderPage, text } from "./output.ts";

/** Share groups as `group:members`, comma-separated; `-` when there is none. */
function shareGroups(item: JsonObject): string {
  const groups = (item.shareGroups ?? []) as JsonObject[];
  if (groups.length === 0) return "-";
  return text(groups.map((g) => `${String(g.group)}:${String(g.members)}`).join(","));
}

/** `yes`/`no` for an exact filter; `-` for a wildcard one, which names no single topic. */
function retained(item: JsonObject): string {
  return item.retained === null ? "-" : item.retained === true ? "yes" : "no";
}

export const TOPIC_COLUMNS: readonly Column[] = [
  { header: "FILTER", cell: (item) => text(item.filter) },
  { header: "SUBSCRIBERS", cell: (item) => text(item.subscribers) },
  { header: "DIRECT", cell: (item) => text(item.directSubscribers) },
  { header: "SHARE GROUPS", cell: shareGroups },
  { header: "RETAINED", cell: retained },
];

export function registerTopicCommands(ctl: Command): void {
  const list = addPaging(
    ctl
      .command("topics")
      .description("MQTT topic filters subscribed on the node")
      .command("list")
      .description("list subscribed topic filters with subscriber counts and retained flag")
      .option("--match <topic>", "only the filters that match this topic name")
      .option("--filter <text>", "only the filters containing this text"),
  );
  list.action(
    action(
      (client) => {
        const { match, filter, limit, offset } = list.opts<{
          match?: string;
          filter?: string;
          limit?: number;
          offset?: number;
        }>();
        return client.get("/api/v1/topics", { match, filter, limit, offset });
      },
      (body) => renderPage(body, TOPIC_COLUMNS),
    ),
  );
}
