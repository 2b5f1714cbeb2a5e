/**
 * One node per data_dir: a second `robustmq start` on a directory in use stops with
 * RMQ_ERR_DATA_DIR_LOCKED before it opens anything, and the running node is unaffected; after
 * the first is killed (-9, its lock left behind) the next start takes the directory over.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { test } from "node:test";
import { startBroker } from "../helpers/broker-process.ts";
import { connectMqtt, uniqueName } from "../helpers/mqtt-clients.ts";

const MAIN = new URL("../../src/cli/main.ts", import.meta.url).pathname;

test("a second node on the same data_dir is refused; a lock left by kill -9 is taken over", async () => {
  const first = await startBroker({ logLevel: "info" });
  const dataDir = first.dataDir;
  try {
    const ports = ["--mqtt-port", "0", "--kafka-port", "0", "--ws-port", "0", "--http-port", "0"];
    const second = spawnSync(
      process.execPath,
      [MAIN, "start", ...ports, "--data-dir", dataDir, "--log-level", "info"],
      { encoding: "utf8", timeout: 30_000 },
    );
    assert.equal(second.status, 1, second.stdout + second.stderr);
    assert.match(second.stdout, /RMQ_ERR_DATA_DIR_LOCKED/);
    assert.match(
      second.stdout,
      new RegExp(`in use by another RobustMQ process \\(pid ${first.child.pid}\\)`),
    );

    const client = await connectMqtt(first.url, { clientId: uniqueName("still") });
    await client.endAsync();

    await first.stop("SIGKILL");
    const next = await startBroker({ dataDir, logLevel: "info" });
    assert.equal(await next.stop("SIGTERM"), 0);
  } finally {
    await first.stop("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  }
});
