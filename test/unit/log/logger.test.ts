import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createLogger, resolveLogFormat } from "../../../src/log/logger.ts";

function capture(): { lines: string[]; destination: { write(line: string): void } } {
  const lines: string[] = [];
  return { lines, destination: { write: (line: string) => void lines.push(line) } };
}

describe("createLogger", () => {
  test("json: one JSON object per line, with level names and ISO time", () => {
    const { lines, destination } = capture();
    const logger = createLogger({ level: "info", format: "json", destination });
    logger.info({ port: 1883 }, "listening");
    assert.equal(lines.length, 1);
    assert.ok(lines[0].endsWith("\n"));
    const entry = JSON.parse(lines[0]);
    assert.equal(entry.level, "info");
    assert.equal(entry.msg, "listening");
    assert.equal(entry.port, 1883);
    assert.ok(!Number.isNaN(Date.parse(entry.time)), entry.time);
  });

  test("the level filters less severe lines", () => {
    const { lines, destination } = capture();
    const logger = createLogger({ level: "warn", format: "json", destination });
    logger.info("dropped");
    logger.debug("dropped");
    logger.warn("kept");
    logger.fatal("kept");
    assert.deepEqual(
      lines.map((line) => JSON.parse(line).level),
      ["warn", "fatal"],
    );
  });

  test("errors are serialized with their code", () => {
    const { lines, destination } = capture();
    const logger = createLogger({ level: "info", format: "json", destination });
    logger.error({ err: Object.assign(new Error("boom"), { code: "RMQ_ERR_X" }) }, "failed");
    const entry = JSON.parse(lines[0]);
    assert.equal(entry.err.message, "boom");
    assert.equal(entry.err.code, "RMQ_ERR_X");
  });

  test("pretty: readable lines, synchronously, without colours off a terminal", () => {
    const { lines, destination } = capture();
    const logger = createLogger({ level: "debug", format: "pretty", destination });
    logger.debug({ port: 1883 }, "listening");
    assert.equal(lines.length, 1, "written before createLogger's caller continues");
    assert.match(lines[0], /DEBUG.*listening/);
    assert.match(lines[0], /port: 1883/);
    assert.ok(!lines[0].includes("\u001b["), "no ANSI colour codes");
    assert.throws(() => JSON.parse(lines[0]));
  });

  test("auto: pretty on a terminal, JSON elsewhere", () => {
    const tty = capture();
    createLogger({ level: "info", format: "auto", destination: tty.destination, isTTY: true }).info(
      "x",
    );
    assert.throws(() => JSON.parse(tty.lines[0]));
    const pipe = capture();
    createLogger({ level: "info", format: "auto", destination: pipe.destination }).info("x");
    assert.equal(JSON.parse(pipe.lines[0]).msg, "x");
  });

  test("child loggers carry their bindings", () => {
    const { lines, destination } = capture();
    createLogger({ level: "info", format: "json", destination })
      .child({ component: "mqtt" })
      .info("hello");
    assert.equal(JSON.parse(lines[0]).component, "mqtt");
  });

  test("an unknown level is a programmer error", () => {
    assert.throws(() => createLogger({ level: "verbose", format: "json" }), /unknown log level/);
  });
});

test("resolveLogFormat", () => {
  assert.equal(resolveLogFormat("auto", true), "pretty");
  assert.equal(resolveLogFormat("auto", false), "json");
  assert.equal(resolveLogFormat("json", true), "json");
  assert.equal(resolveLogFormat("pretty", false), "pretty");
});
