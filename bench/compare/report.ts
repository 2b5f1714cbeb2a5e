/**
 * Turns the comparison's measurements into compare.md (tables), compare.svg (a grouped bar
 * chart, one group per metric, each scaled to its own largest value) and compare.json
 * (everything, the generator summaries included). Pure apart from nothing: writing is run.ts's.
 */
import { assert } from "../../src/errors.ts";
import { BROKER_NAMES, type BrokerName } from "./brokers.ts";
import type { Measurement, MetricSpec, Settings, Target, Workload } from "./workloads.ts";

export interface BrokerResult {
  measurement: Measurement | null;
  error: string | null;
}

export interface WorkloadResult {
  workload: Workload;
  results: Partial<Record<BrokerName, BrokerResult>>;
}

export type Verdict = "met" | "missed" | "n/a";

export interface Evaluation {
  verdict: Verdict;
  /** Which parts missed: "vs Aedes 2.1x < 3x", ... */
  missed: string[];
}

const BROKER_TITLES: Readonly<Record<BrokerName, string>> = {
  robustmq: "RobustMQ",
  mosquitto: "Mosquitto",
  aedes: "Aedes",
};

export function brokerValue(row: WorkloadResult, broker: BrokerName, key: string): number | null {
  return row.results[broker]?.measurement?.values[key] ?? null;
}

/** RobustMQ / other, or null when either is missing or the other is 0. */
export function ratio(row: WorkloadResult, other: BrokerName, key: string): number | null {
  const mine = brokerValue(row, "robustmq", key);
  const theirs = brokerValue(row, other, key);
  return mine === null || theirs === null || theirs === 0 ? null : mine / theirs;
}

export function evaluate(row: WorkloadResult, metric: MetricSpec): Evaluation {
  const target = metric.target;
  if (target === null) return { verdict: "n/a", missed: [] };
  const missed: string[] = [];
  let checked = 0;
  const vsAedes = ratio(row, "aedes", metric.key);
  if (target.aedesRatioMin !== null && vsAedes !== null) {
    checked++;
    if (vsAedes < target.aedesRatioMin)
      missed.push(`vs Aedes ${x(vsAedes)} < ${target.aedesRatioMin}x`);
  }
  const vsMosquitto = ratio(row, "mosquitto", metric.key);
  if (target.mosquittoRatioMin !== null && vsMosquitto !== null) {
    checked++;
    if (vsMosquitto < target.mosquittoRatioMin) {
      missed.push(`vs Mosquitto ${x(vsMosquitto)} < ${target.mosquittoRatioMin}x`);
    }
  }
  if (target.atMostMosquitto && vsMosquitto !== null) {
    checked++;
    if (vsMosquitto > 1) missed.push(`${x(vsMosquitto)} Mosquitto's`);
  }
  const mine = brokerValue(row, "robustmq", metric.key);
  if (target.valueMax !== null && mine !== null) {
    checked++;
    if (mine > target.valueMax) missed.push(`${mine.toFixed(metric.digits)} > ${target.valueMax}`);
  }
  if (checked === 0) return { verdict: "n/a", missed: [] };
  return { verdict: missed.length === 0 ? "met" : "missed", missed };
}

/**
 * A reference row (Workload.referenceFor) as shown: RobustMQ's result taken from the workload it
 * refers to, so its ratio to the reference broker can be read. Other rows are returned as they are.
 */
export function referenceView(
  row: WorkloadResult,
  rows: readonly WorkloadResult[],
): WorkloadResult {
  const of = row.workload.referenceFor;
  if (of === null) return row;
  const main = rows.find((r) => r.workload.id === of && r.workload.referenceFor === null);
  const robustmq = main?.results.robustmq;
  if (robustmq === undefined) return row;
  assert(main !== row, "a reference row refers to another row");
  return { workload: row.workload, results: { ...row.results, robustmq } };
}

/** The `#` cell: "7", or "7 ref" for a reference row. */
export const workloadTag = (workload: Workload): string =>
  workload.referenceFor === null ? String(workload.id) : `${workload.id} ref`;

const x = (n: number): string => `${n >= 10 ? n.toFixed(1) : n.toFixed(2)}x`;

export function targetText(target: Target | null): string {
  if (target === null) return "-";
  const parts: string[] = [];
  if (target.aedesRatioMin !== null) parts.push(`>= ${target.aedesRatioMin}x Aedes`);
  if (target.mosquittoRatioMin !== null) parts.push(`>= ${target.mosquittoRatioMin}x Mosquitto`);
  if (target.atMostMosquitto) parts.push("<= Mosquitto");
  if (target.valueMax !== null) parts.push(`<= ${target.valueMax}`);
  return parts.join(", ");
}

function formatValue(value: number, digits: number): string {
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function cell(row: WorkloadResult, broker: BrokerName, metric: MetricSpec): string {
  const result = row.results[broker];
  if (result === undefined) return "-";
  if (result.error !== null) return `error: ${result.error.slice(0, 80)}`;
  const m = result.measurement;
  assert(m !== null, "a result without an error has a measurement");
  const value = m.values[metric.key] ?? null;
  if (value === null) return "not supported";
  const showShare = metric.key === "deliveredPerSecond" && m.deliveredShare !== null;
  const share = showShare ? ` (${percent(m.deliveredShare ?? 0)})` : "";
  return `${formatValue(value, metric.digits)}${share}`;
}

const percent = (share: number): string =>
  share >= 0.995 && share < 1 ? ">99%" : `${Math.round(share * 100)}%`;

const line = (cells: readonly string[]): string => `| ${cells.join(" | ")} |`;

function ratioCell(row: WorkloadResult, other: BrokerName, key: string): string {
  const r = ratio(row, other, key);
  return r === null ? "n/a" : x(r);
}

function verdictCell(row: WorkloadResult, evaluation: Evaluation): string {
  if (row.workload.referenceFor !== null) return "reference, not judged";
  if (evaluation.verdict === "missed") return `**missed** (${evaluation.missed.join("; ")})`;
  return evaluation.verdict;
}

export function resultsTable(rows: readonly WorkloadResult[], settings: Settings): string {
  const header = ["#", "Workload", "Metric", "RobustMQ", "Mosquitto", "Aedes", "R / M", "R / A"];
  const columns = [...header, "Target", "Met?"];
  const lines = [line(columns), line(columns.map(() => "---"))];
  for (const shown of rows) {
    const row = referenceView(shown, rows);
    const { workload } = row;
    const title = workload.title;
    for (const [i, metric] of workload.metrics.entries()) {
      const label = metric.better === "lower" ? `${metric.label} (lower is better)` : metric.label;
      lines.push(
        line([
          i === 0 ? workloadTag(workload) : "",
          i === 0 ? `${title}; ${workload.shape(settings)}` : "",
          label,
          ...BROKER_NAMES.map((b) => cell(row, b, metric)),
          ratioCell(row, "mosquitto", metric.key),
          ratioCell(row, "aedes", metric.key),
          targetText(metric.target),
          verdictCell(row, evaluate(row, metric)),
        ]),
      );
    }
  }
  return lines.join("\n");
}

export function cpuTable(rows: readonly WorkloadResult[]): string {
  const lines = [
    line(["#", ...BROKER_NAMES.map((b) => `${BROKER_TITLES[b]} broker / rest`)]),
    line(["---", ...BROKER_NAMES.map(() => "---:")]),
  ];
  for (const row of rows) {
    const cells = BROKER_NAMES.map((b) => {
      const cpu = row.results[b]?.measurement?.cpu ?? null;
      if (cpu === null) return "-";
      return `${cpu.brokerPercent ?? "?"}% / ${cpu.restPercent ?? "?"}%`;
    });
    if (cells.every((c) => c === "-")) continue;
    lines.push(line([workloadTag(row.workload), ...cells]));
  }
  return lines.join("\n");
}

export function notesList(rows: readonly WorkloadResult[]): string {
  const lines: string[] = [];
  for (const row of rows) {
    for (const broker of BROKER_NAMES) {
      const notes = row.results[broker]?.measurement?.notes ?? [];
      if (notes.length > 0) {
        const tag = workloadTag(row.workload);
        lines.push(`- ${tag}, ${BROKER_TITLES[broker]}: ${notes.join("; ")}`);
      }
    }
  }
  return lines.join("\n");
}

// ---- SVG ------------------------------------------------------------------------------

const COLORS: Readonly<Record<BrokerName, string>> = {
  robustmq: "#d9480f",
  mosquitto: "#1971c2",
  aedes: "#2f9e44",
};
const GROUP_WIDTH = 132;
const BAR_WIDTH = 32;
const PLOT_TOP = 86;
const PLOT_HEIGHT = 230;
const LEFT = 20;
const SUBTITLE = "Each group is scaled to its own largest value; labels are absolute figures.";

function short(value: number, digits: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (value >= 1e4) return `${Math.round(value / 1e3)}k`;
  return value.toFixed(Math.min(digits, value >= 100 ? 0 : 2));
}

const escapeXml = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function text(xAt: number, y: number, content: string, extra = ""): string {
  return `<text x="${xAt}" y="${y}" text-anchor="middle" ${extra}>${escapeXml(content)}</text>`;
}

function group(row: WorkloadResult, metric: MetricSpec, left: number): string[] {
  const values = BROKER_NAMES.map((b) => brokerValue(row, b, metric.key));
  const max = Math.max(...values.map((v) => v ?? 0));
  const parts: string[] = [];
  const baseline = PLOT_TOP + PLOT_HEIGHT;
  BROKER_NAMES.forEach((broker, i) => {
    const value = values[i];
    const barLeft = left + 12 + i * (BAR_WIDTH + 4);
    const middle = barLeft + BAR_WIDTH / 2;
    if (value === null) {
      parts.push(text(middle, baseline - 4, "n/a", 'font-size="10" fill="#868e96"'));
      return;
    }
    const height = max > 0 ? Math.max(1, (value / max) * PLOT_HEIGHT) : 1;
    const top = baseline - height;
    parts.push(
      `<rect x="${barLeft}" y="${top.toFixed(1)}" width="${BAR_WIDTH}" ` +
        `height="${height.toFixed(1)}" fill="${COLORS[broker]}"/>`,
      text(middle, Math.round(top - 3), short(value, metric.digits), 'font-size="10"'),
    );
  });
  const center = left + GROUP_WIDTH / 2;
  const better = metric.better === "lower" ? "lower is better" : "higher is better";
  parts.push(
    text(
      center,
      baseline + 16,
      `${workloadTag(row.workload)}. ${row.workload.key}`,
      'font-size="11"',
    ),
    text(center, baseline + 30, metric.label, 'font-size="11"'),
    text(center, baseline + 43, better, 'font-size="9" fill="#868e96"'),
  );
  return parts;
}

export function chartSvg(rows: readonly WorkloadResult[], title: string): string {
  const groups = rows.flatMap((shown) => {
    const row = referenceView(shown, rows);
    return row.workload.metrics.map((metric) => ({ row, metric }));
  });
  const width = LEFT * 2 + groups.length * GROUP_WIDTH;
  const height = PLOT_TOP + PLOT_HEIGHT + 60;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      'font-family="sans-serif">',
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${LEFT}" y="22" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="${LEFT}" y="40" font-size="11" fill="#495057">${SUBTITLE}</text>`,
  ];
  BROKER_NAMES.forEach((broker, i) => {
    const xAt = LEFT + i * 110;
    parts.push(
      `<rect x="${xAt}" y="50" width="12" height="12" fill="${COLORS[broker]}"/>`,
      `<text x="${xAt + 16}" y="60" font-size="11">${BROKER_TITLES[broker]}</text>`,
    );
  });
  groups.forEach(({ row, metric }, i) => {
    parts.push(...group(row, metric, LEFT + i * GROUP_WIDTH));
  });
  const axis = PLOT_TOP + PLOT_HEIGHT;
  parts.push(
    `<line x1="${LEFT}" y1="${axis}" x2="${width - LEFT}" y2="${axis}" stroke="#495057"/>`,
  );
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

// ---- JSON -----------------------------------------------------------------------------

export function resultsJson(rows: readonly WorkloadResult[], settings: Settings): unknown {
  return rows.map((row) => ({
    id: row.workload.id,
    referenceFor: row.workload.referenceFor,
    key: row.workload.key,
    title: row.workload.title,
    shape: row.workload.shape(settings),
    metrics: row.workload.metrics.map((metric) => ({
      ...metric,
      robustmqOverMosquitto: ratio(referenceView(row, rows), "mosquitto", metric.key),
      robustmqOverAedes: ratio(referenceView(row, rows), "aedes", metric.key),
      evaluation: evaluate(row, metric),
    })),
    results: Object.fromEntries(
      Object.entries(row.results).map(([broker, result]) => [
        broker,
        result.measurement === null
          ? { error: result.error }
          : {
              ...result.measurement,
              runs: result.measurement.runs.map((r) => ({ argv: r.argv, summary: r.summary })),
              error: result.error,
            },
      ]),
    ),
  }));
}
