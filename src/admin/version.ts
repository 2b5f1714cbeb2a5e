import { readFileSync } from "node:fs";

let cached: string | null = null;

/** The version in package.json, read once. */
export function robustmqVersion(): string {
  if (cached !== null) return cached;
  const text = readFileSync(new URL("../../package.json", import.meta.url), "utf8");
  const version: unknown = JSON.parse(text).version;
  cached = typeof version === "string" ? version : "unknown";
  return cached;
}
