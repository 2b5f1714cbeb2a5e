/**
 * `robustmq bench mqtt ...` as operators type it: help, usage errors (exit 2, coded message, no
 * stack), flags that belong to other commands, and -V meaning --protocol-version after the
 * subcommand. No broker needed: every run here fails before connecting, or connects nowhere.
 */
import assert from "node:assert/strict";
import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, test } from "node:test";

const root = new URL("../../../", import.meta.url).pathname;
const mainScript = join(root, "src/cli/main.ts");

function robustmq(...args: string[]): SpawnSyncReturns<string> {
  const result = spawnSync(process.execPath, [mainScript, ...args], {
    encoding: "utf8",
    timeout: 20_000,
    env: { ...process.env, NO_COLOR: "1" },
  });
  assert.equal(result.error, undefined, String(result.error));
  return result;
}

function assertUsage(result: SpawnSyncReturns<string>, code: string): string {
  assert.equal(result.status, 2, `stdout: ${result.stdout}\nstderr: ${result.stderr}`);
  assert.ok(result.stderr.startsWith(`error ${code}: `), result.stderr);
  assert.doesNotMatch(result.stderr, /^\s+at /m, "no stack trace");
  return result.stderr;
}

describe("help", () => {
  test("bench mqtt --help lists the four commands", () => {
    const result = robustmq("bench", "mqtt", "--help");
    assert.equal(result.status, 0);
    for (const name of ["conn", "pub", "sub", "pubsub"])
      assert.match(result.stdout, new RegExp(`\\b${name}\\b`));
  });

  test("each command lists only its own options", () => {
    const pubsub = robustmq("bench", "mqtt", "pubsub", "--help").stdout;
    assert.match(pubsub, /--publishers <n>/);
    assert.match(pubsub, /--sub-topic <pattern>/);
    assert.doesNotMatch(pubsub, /--clients/);
    const conn = robustmq("bench", "mqtt", "conn", "--help").stdout;
    assert.match(conn, /--conn-rate <n>/);
    assert.doesNotMatch(conn, /--rate <n>|--qos|--payload-size/);
  });
});

describe("usage errors exit 2", () => {
  test("a bad value names the option, the value and what is allowed", () => {
    const stderr = assertUsage(
      robustmq("bench", "mqtt", "pub", "-q", "3", "-V", "9"),
      "RMQ_ERR_BENCH_INVALID_OPTION",
    );
    assert.match(stderr, /--qos = "3": must be one of 0, 1, 2/);
    assert.match(stderr, /--protocol-version = "9": must be one of 3, 4, 5/);
  });

  test("an option of another command is unknown", () => {
    const stderr = assertUsage(
      robustmq("bench", "mqtt", "conn", "--rate", "10"),
      "RMQ_ERR_CLI_USAGE",
    );
    assert.match(stderr, /unknown option '--rate'/);
  });

  test("an unknown bench command", () => {
    assertUsage(robustmq("bench", "mqtt", "flood"), "RMQ_ERR_CLI_USAGE");
  });

  test("-V after the subcommand is the protocol version, not the program's version", () => {
    // Port 1 on loopback refuses at once: the run fails to connect, so exit 1, not 0 or 2.
    const result = robustmq("bench", "mqtt", "conn", "-p", "1", "-V", "4", "-d", "0.1", "--json");
    assert.equal(result.status, 1, result.stderr);
    const summary = JSON.parse(result.stdout);
    assert.equal(summary.protocolVersion, 4);
    assert.deepEqual(summary.errors, { "connect:ECONNREFUSED": 1 });
  });

  test("the program's own --version still works", () => {
    const result = robustmq("--version");
    assert.equal(result.status, 0);
    assert.match(result.stdout.trim(), /^\d+\.\d+\.\d+/);
  });
});
