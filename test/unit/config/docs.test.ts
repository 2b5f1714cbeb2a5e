/**
 * Keeps docs/configuration.md and config/robustmq.toml in step with the schema: every key
 * documented with its real default, every example valid, the example file complete.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { parse } from "smol-toml";
import { z } from "zod";
import { defaultConfig, loadConfig } from "../../../src/config/load.ts";
import { ConfigSchema } from "../../../src/config/schema.ts";

const root = new URL("../../../", import.meta.url);
const docs = readFileSync(new URL("docs/configuration.md", root), "utf8");
const exampleFile = new URL("config/robustmq.toml", root).pathname;

interface SchemaKey {
  section: string | undefined;
  key: string;
  defaultValue: unknown;
}

/** Walks the zod shape itself (not the schema module's helpers), so a helper bug cannot hide. */
function schemaKeys(): SchemaKey[] {
  const keys: SchemaKey[] = [];
  const defaults: Record<string, unknown> = ConfigSchema.parse({});
  for (const [name, field] of Object.entries(ConfigSchema.shape)) {
    let inner: z.ZodType = field;
    while (inner instanceof z.ZodDefault || inner instanceof z.ZodPrefault) {
      inner = inner.unwrap() as z.ZodType;
    }
    if (inner instanceof z.ZodObject) {
      const sectionDefaults = defaults[name] as Record<string, unknown>;
      for (const key of Object.keys(inner.shape)) {
        keys.push({ section: name, key, defaultValue: sectionDefaults[key] });
      }
    } else {
      keys.push({ section: undefined, key: name, defaultValue: defaults[name] });
    }
  }
  return keys;
}

/** A default as the docs write it: TOML syntax, no digit separators. */
function tomlText(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(tomlText).join(", ")}]`;
  return String(value);
}

/** The text of the `## ...` part of the docs whose heading contains `marker`. */
function docsSection(marker: string): string {
  const parts = docs.split(/^## /m);
  const part = parts.find((p) => p.split("\n")[0].includes(marker));
  assert.ok(part !== undefined, `docs/configuration.md has no "## ...${marker}..." heading`);
  return part;
}

describe("docs/configuration.md", () => {
  const keys = schemaKeys();

  test("the schema walk finds every section and key", () => {
    assert.ok(keys.length >= 30, `only ${keys.length} keys found`);
    const sections = new Set(keys.map((k) => k.section));
    for (const name of ["network", "mqtt_protocol_config", "mqtt_limits", "log", undefined]) {
      assert.ok(sections.has(name), `section ${name}`);
    }
  });

  for (const { section, key, defaultValue } of keys) {
    const dotted = section === undefined ? key : `${section}.${key}`;
    test(`${dotted} is documented with its default`, () => {
      const text = docsSection(section === undefined ? "Top-level keys" : `\`[${section}]\``);
      const row = text.split("\n").find((line) => line.startsWith(`| \`${key}\` |`));
      assert.ok(row !== undefined, `no table row for ${dotted}`);
      const cells = row.split(" | ");
      assert.ok(cells.length >= 5, `row for ${dotted} needs type, default, allowed and text`);
      assert.equal(cells[2], `\`${tomlText(defaultValue)}\``, `default of ${dotted}`);
    });
  }

  test("every flag of robustmq start is documented", () => {
    const main = readFileSync(new URL("src/cli/main.ts", root), "utf8");
    const flags = [...main.matchAll(/\.option\("(--[a-z-]+)/g)].map((m) => m[1]);
    assert.ok(flags.length >= 6, `found flags ${flags.join(", ")}`);
    const cli = docsSection("Command line");
    for (const flag of flags) assert.ok(cli.includes(`\`${flag}`), `${flag} not documented`);
  });

  test("every TOML example is a valid configuration", () => {
    const dir = mkdtempSync(join(tmpdir(), "robustmq-docs-"));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const blocks = [...docs.matchAll(/```toml\n([\s\S]*?)```/g)].map((m) => m[1]);
    assert.ok(blocks.length >= 1, "docs have a full TOML example");
    blocks.forEach((block, index) => {
      const file = join(dir, `example-${index}.toml`);
      writeFileSync(file, block);
      loadConfig({ file });
    });
  });
});

describe("config/robustmq.toml", () => {
  test("loads and equals defaultConfig()", () => {
    assert.deepEqual(loadConfig({ file: exampleFile }), defaultConfig());
  });

  test("sets every key explicitly", () => {
    const raw = parse(readFileSync(exampleFile, "utf8")) as Record<string, unknown>;
    for (const { section, key } of schemaKeys()) {
      const table = section === undefined ? raw : (raw[section] as Record<string, unknown>);
      assert.ok(table !== undefined && key in table, `${section ?? "top level"}: ${key} missing`);
    }
  });
});
