/**
 * How `robustmq ctl` prints answers: `--output json` prints the API's JSON as it came;
 * `--output table` prints lists as aligned columns and single objects as key/value lines.
 */
import type { Json, JsonObject } from "./client.ts";

export type OutputFormat = "table" | "json";

export interface Column {
  readonly header: string;
  /** Reads the cell from one list item. */
  readonly cell: (item: JsonObject) => string;
}

const CELL_CHARS_MAX = 48;

export function text(value: Json | undefined): string {
  if (value === null || value === undefined) return "-";
  if (typeof value === "object") return JSON.stringify(value);
  const shown = String(value);
  return shown.length > CELL_CHARS_MAX ? `${shown.slice(0, CELL_CHARS_MAX - 3)}...` : shown;
}

/** Aligned columns, one header line, two spaces between columns. */
export function renderTable(items: JsonObject[], columns: readonly Column[]): string {
  const rows = [columns.map((c) => c.header), ...items.map((i) => columns.map((c) => c.cell(i)))];
  const widths = columns.map((_, index) => Math.max(...rows.map((row) => row[index].length)));
  const lines = rows.map((row) =>
    row
      .map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index])))
      .join("  ")
      .trimEnd(),
  );
  return `${lines.join("\n")}\n`;
}

/** Nested objects become dotted keys ("listeners.mqtt.port"). */
export function flatten(value: Json, prefix = "", out: Array<[string, string]> = []) {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) {
      flatten(inner, prefix === "" ? key : `${prefix}.${key}`, out);
    }
  } else {
    const shown = Array.isArray(value) ? value.map((v) => text(v)).join(",") : text(value);
    out.push([prefix, shown]);
  }
  return out;
}

export function renderObject(value: Json): string {
  const pairs = flatten(value);
  const width = Math.max(0, ...pairs.map(([key]) => key.length));
  return `${pairs.map(([key, shown]) => `${key.padEnd(width)}  ${shown}`).join("\n")}\n`;
}

/** A list page: the table, then "N of TOTAL" and how to get the next page. */
export function renderPage(body: Json, columns: readonly Column[]): string {
  const page = body as { data: JsonObject[]; meta: { total: number; nextOffset: number | null } };
  const table = page.data.length === 0 ? "(none)\n" : renderTable(page.data, columns);
  const next =
    page.meta.nextOffset === null ? "" : ` (next page: --offset ${page.meta.nextOffset})`;
  return `${table}${page.data.length} of ${page.meta.total}${next}\n`;
}

export function render(format: OutputFormat, body: Json, table: (body: Json) => string): string {
  return format === "json" ? `${JSON.stringify(body, null, 2)}\n` : table(body);
}
