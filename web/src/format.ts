/** Pure formatters for table cells and stat cards. */

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

export function bytes(count: number): string {
  let value = count;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

export function count(value: number): string {
  return value.toLocaleString("en-US");
}

export function rate(perSecond: number): string {
  if (perSecond >= 1000) return `${(perSecond / 1000).toFixed(1)}k`;
  return perSecond.toFixed(perSecond < 10 && perSecond % 1 !== 0 ? 1 : 0);
}

export function duration(seconds: number): string {
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

/** A time of today as hh:mm:ss, any other as dd/mm/yyyy hh:mm:ss (local time). */
export function time(iso: string | null): string {
  if (iso === null) return "—";
  const date = new Date(iso);
  const clock = date.toLocaleTimeString("en-GB");
  if (date.toDateString() === new Date().toDateString()) return clock;
  return `${date.toLocaleDateString("en-GB")} ${clock}`;
}

const PROTOCOLS: Readonly<Record<number, string>> = { 3: "3.1", 4: "3.1.1", 5: "5" };

export function protocol(version: number | null): string {
  return version === null ? "—" : (PROTOCOLS[version] ?? String(version));
}

/** A retained payload preview (base64): text when it decodes as printable UTF-8, else hex. */
export function payloadPreview(base64: string, truncated: boolean): string {
  const raw = atob(base64);
  const data = Uint8Array.from(raw, (c) => c.charCodeAt(0));
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(data);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for control characters
    if (/[\u0000-\u0008\u000e-\u001f]/.test(text)) throw new Error("binary");
  } catch {
    text = Array.from(data, (b) => b.toString(16).padStart(2, "0")).join(" ");
  }
  return truncated ? `${text}…` : text;
}
