/** The table columns `robustmq ctl` shows for each kind of list. */
import type { JsonObject } from "./client.ts";
import { type Column, text } from "./output.ts";

function col(header: string, key: string): Column {
  return { header, cell: (item: JsonObject) => text(item[key]) };
}

const PREVIEW_CHARS_MAX = 32;

/** A retained payload's preview as text when it is printable UTF-8, else as its size. */
function preview(item: JsonObject): string {
  const bytes = Buffer.from(String(item.payloadPreview ?? ""), "base64");
  const decoded = bytes.toString("utf8");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are the point
  const printable = !decoded.includes("\uFFFD") && !/[\u0000-\u0008\u000E-\u001F]/.test(decoded);
  if (!printable) return `<${bytes.length} bytes binary>`;
  const cut = decoded.length > PREVIEW_CHARS_MAX || item.previewTruncated === true;
  return JSON.stringify(cut ? `${decoded.slice(0, PREVIEW_CHARS_MAX)}...` : decoded);
}

export const CLIENT_COLUMNS: readonly Column[] = [
  col("CLIENT ID", "clientId"),
  col("CONNECTED", "connected"),
  col("USERNAME", "username"),
  col("REMOTE ADDRESS", "remoteAddress"),
  col("PROTOCOL", "protocolVersion"),
  col("KEEP ALIVE", "keepAliveS"),
  col("SUBS", "subscriptionsCount"),
  col("INFLIGHT", "inflightCount"),
  col("QUEUED", "queuedCount"),
];

export const SESSION_COLUMNS: readonly Column[] = [
  col("CLIENT ID", "clientId"),
  col("CONNECTED", "connected"),
  col("EXPIRY (S)", "expiryIntervalS"),
  col("EXPIRES AT", "expiresAt"),
  col("SUBS", "subscriptionsCount"),
  col("INFLIGHT", "inflightCount"),
  col("QUEUED", "queuedCount"),
];

export const SUBSCRIPTION_COLUMNS: readonly Column[] = [
  col("CLIENT ID", "clientId"),
  col("FILTER", "filter"),
  col("QOS", "qos"),
  col("SHARE GROUP", "shareGroup"),
  col("NO LOCAL", "noLocal"),
  col("RETAIN AS PUBLISHED", "retainAsPublished"),
  col("SUB ID", "subscriptionId"),
];

export const RETAINED_COLUMNS: readonly Column[] = [
  col("TOPIC", "topic"),
  col("QOS", "qos"),
  col("BYTES", "payloadBytes"),
  col("EXPIRES AT", "expiresAt"),
  { header: "PAYLOAD", cell: preview },
];

export const SEGMENT_COLUMNS: readonly Column[] = [
  col("BASE OFFSET", "baseOffset"),
  col("NEXT OFFSET", "nextOffset"),
  col("BYTES", "sizeBytes"),
  col("CORRUPT REGIONS", "corruptRegions"),
];

export const KAFKA_TOPIC_COLUMNS: readonly Column[] = [
  col("TOPIC", "name"),
  col("PARTITIONS", "partitions"),
  col("RECORDS", "records"),
  col("BYTES", "sizeBytes"),
  col("CREATED", "createdAt"),
];

export const KAFKA_PARTITION_COLUMNS: readonly Column[] = [
  col("PARTITION", "partition"),
  col("START OFFSET", "logStartOffset"),
  col("END OFFSET", "logEndOffset"),
  col("BYTES", "sizeBytes"),
];

export const KAFKA_GROUP_COLUMNS: readonly Column[] = [
  col("GROUP", "groupId"),
  col("STATE", "state"),
  col("GENERATION", "generationId"),
  col("MEMBERS", "members"),
  col("LAG", "lag"),
];

export const USER_COLUMNS: readonly Column[] = [
  col("USERNAME", "username"),
  col("SUPERUSER", "superuser"),
  col("CREATED", "createdAt"),
];

export const ACL_RULE_COLUMNS: readonly Column[] = [
  col("ID", "id"),
  col("SOURCE", "source"),
  col("PERMISSION", "permission"),
  col("ACTION", "action"),
  col("TOPIC", "topic"),
  col("USERNAME", "username"),
  col("CLIENT ID", "client_id"),
  col("IP", "ip"),
];

export const KAFKA_ACL_RULE_COLUMNS: readonly Column[] = [
  col("ID", "id"),
  col("SOURCE", "source"),
  col("PERMISSION", "permission"),
  col("ACTION", "action"),
  col("TOPIC", "topic"),
  col("GROUP", "group"),
  col("USERNAME", "username"),
];

/** A ban's expiry: "never" reads better than "-" for a ban that does not lapse. */
function expiry(item: JsonObject): string {
  return item.expiresAt === null ? "never" : text(item.expiresAt);
}

export const BAN_COLUMNS: readonly Column[] = [
  col("KIND", "kind"),
  col("VALUE", "value"),
  { header: "REASON", cell: (item) => (item.reason === "" ? "-" : text(item.reason)) },
  col("CREATED", "createdAt"),
  { header: "EXPIRES AT", cell: expiry },
];
